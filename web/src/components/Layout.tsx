import {
  ActionIcon,
  AppShell,
  Badge,
  Burger,
  Group,
  NavLink,
  Text,
  useComputedColorScheme,
  useMantineColorScheme,
  VisuallyHidden,
} from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconBell,
  IconCalendarTime,
  IconClock,
  IconDashboard,
  IconHistory,
  IconKey,
  IconListCheck,
  IconLogout,
  IconMoon,
  IconPlayerPlay,
  IconHeartbeat,
  IconApi,
  IconKeyboard,
  IconServer,
  IconSun,
} from "@tabler/icons-react";
import { useEffect, useRef, type ReactNode } from "react";
import { Link, useLocation } from "react-router";
import { markNavigation } from "../lib/navigationFocus";
import { AfterFirstPaint } from "./AfterFirstPaint";
import { ShortcutsHelp, useShortcuts } from "./Shortcuts";
import { useLiveState, type LiveState } from "../api/events";
import { useAuth, usePermissions } from "../auth/AuthProvider";

const LIVE_LABEL: Record<LiveState, { color: string; text: string; help: string }> = {
  live: { color: "teal", text: "Live", help: "Updates arrive as they happen" },
  connecting: { color: "gray", text: "Connecting", help: "Connecting to live updates" },
  offline: { color: "orange", text: "Polling", help: "Live updates unavailable; refreshing every 10 seconds" },
};

function ThemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const computed = useComputedColorScheme("light", { getInitialValueInEffect: false });
  const next = computed === "dark" ? "light" : "dark";
  return (
    <ActionIcon variant="default" size="lg" aria-label={`Switch to ${next} theme`} title={`Switch to ${next} theme`} onClick={() => setColorScheme(next)}>
      {computed === "dark" ? <IconSun size={18} aria-hidden /> : <IconMoon size={18} aria-hidden />}
    </ActionIcon>
  );
}

function LiveBadge() {
  const info = LIVE_LABEL[useLiveState()];
  return (
    <Badge color={info.color} variant="dot" data-testid="live-state" aria-live="polite" title={info.help}>
      {info.text}
    </Badge>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const [opened, { toggle, close }] = useDisclosure();
  const [helpOpened, help] = useDisclosure();
  useShortcuts(help.open);
  const { me, signOut } = useAuth();
  const { canAdmin } = usePermissions();
  const location = useLocation();
  // A route change (not the first page) hands the focus to the new page's heading (PageTitle).
  const shownPath = useRef(location.pathname);
  useEffect(() => {
    if (shownPath.current === location.pathname) return;
    shownPath.current = location.pathname;
    // The new page may be drawn already (its heading mounted before this effect ran): focus it now;
    // else its heading takes the focus when it renders.
    const heading = document.querySelector<HTMLElement>("main h1.page-heading");
    if (heading) heading.focus();
    else markNavigation();
  }, [location.pathname]);

  const links = [
    { to: "/", label: "Dashboard", icon: IconDashboard, exact: true },
    { to: "/tasks", label: "Tasks", icon: IconListCheck },
    { to: "/runs", label: "Runs", icon: IconPlayerPlay },
    { to: "/upcoming", label: "Upcoming", icon: IconCalendarTime },
    { to: "/timeline", label: "Timeline", icon: IconClock },
    { to: "/workers", label: "Workers", icon: IconServer },
    { to: "/status", label: "Status", icon: IconHeartbeat },
    { to: "/notifications", label: "Notifications", icon: IconBell },
    ...(canAdmin
      ? [
          { to: "/keys", label: "API keys", icon: IconKey },
          { to: "/audit", label: "Audit log", icon: IconHistory },
        ]
      : []),
  ];

  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 210, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Group gap={6} renderRoot={(props) => <Link to="/" aria-label="tasksched home" {...props} />} style={{ textDecoration: "none", color: "inherit" }} wrap="nowrap">
              <IconClock size={22} aria-hidden />
              <Text fw={700}>tasksched</Text>
            </Group>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <LiveBadge />
            {me && (
              <Text size="sm" visibleFrom="xs" data-testid="whoami">
                {me.name} <Badge size="sm" variant="outline">{me.role}</Badge>
              </Text>
            )}
            {/* On a phone the header has room for four buttons: API docs moves into the menu, and the
                keyboard shortcuts (no keyboard) go. */}
            <ActionIcon
              component="a"
              href="/api/docs"
              variant="default"
              size="lg"
              aria-label="API docs"
              title="API docs (the HTTP API, with every operation)"
              visibleFrom="sm"
            >
              <IconApi size={18} aria-hidden />
            </ActionIcon>
            <ActionIcon variant="default" size="lg" onClick={help.open} aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)" visibleFrom="sm">
              <IconKeyboard size={18} aria-hidden />
            </ActionIcon>
            <ThemeToggle />
            <ActionIcon variant="default" size="lg" onClick={() => signOut()} aria-label="Sign out" title="Sign out">
              <IconLogout size={18} aria-hidden />
            </ActionIcon>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main">
        <nav>
          <VisuallyHidden>
            <h2>Navigation</h2>
          </VisuallyHidden>
          {links.map(({ to, label, icon: Icon, exact }) => {
            const active = exact ? location.pathname === to : location.pathname.startsWith(to);
            return (
              <NavLink
                key={to}
                component={Link}
                to={to}
                label={label}
                active={active}
                aria-current={active ? "page" : undefined}
                leftSection={<Icon size={18} aria-hidden />}
                onClick={close}
              />
            );
          })}
          <NavLink component="a" href="/api/docs" label="API docs" leftSection={<IconApi size={18} aria-hidden />} hiddenFrom="sm" />
        </nav>
        {/* The header has no room for who is signed in on a phone: the menu says it. */}
        {me && (
          <Text size="sm" hiddenFrom="xs" px="sm" mt="sm" data-testid="whoami-menu">
            Signed in as {me.name} ({me.role})
          </Text>
        )}
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        {children}
      </AppShell.Main>
      <AfterFirstPaint>
        <ShortcutsHelp opened={helpOpened} onClose={help.close} />
      </AfterFirstPaint>
    </AppShell>
  );
}
