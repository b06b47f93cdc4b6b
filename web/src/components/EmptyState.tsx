import { Button, Paper, Stack, Text, ThemeIcon, Title } from "@mantine/core";
import { IconRocket } from "@tabler/icons-react";
import { Link } from "react-router";
import { usePermissions } from "../auth/AuthProvider";

/** What an empty system shows: one clear first step. */
export function FirstTaskPrompt() {
  const { canAdmin } = usePermissions();
  return (
    <Paper withBorder p="xl" radius="md" data-testid="first-step">
      <Stack align="center" gap="sm" ta="center">
        <ThemeIcon size={56} radius="xl" variant="light">
          <IconRocket size={30} aria-hidden />
        </ThemeIcon>
        <Title order={2} size="h3">
          Nothing scheduled yet
        </Title>
        <Text c="dimmed" maw={520}>
          A task is something to run — an HTTP request, a command or a registered Python function — and when to run
          it: once, every few seconds or minutes, or on a cron schedule in your time zone.
        </Text>
        {canAdmin ? (
          <Button component={Link} to="/tasks/new" size="md">
            Create your first task
          </Button>
        ) : (
          <Text size="sm">Ask an admin to create the first task; it will appear here as soon as they do.</Text>
        )}
      </Stack>
    </Paper>
  );
}
