import { Anchor, Kbd, Modal, Stack, Table, Text } from "@mantine/core";
import { useEffect, useRef } from "react";
import { useNavigate, type NavigateFunction } from "react-router";

/** The shortcuts, as the help dialog lists them. */
export const SHORTCUTS: { keys: string[]; what: string }[] = [
  { keys: ["/"], what: "Search (the page's search or filter field; the task list's if the page has none)" },
  { keys: ["g", "t"], what: "Go to tasks" },
  { keys: ["g", "r"], what: "Go to runs" },
  { keys: ["g", "d"], what: "Go to the dashboard" },
  { keys: ["?"], what: "Show this help" },
];

const GO: Record<string, string> = { t: "/tasks", r: "/runs", d: "/" };
/** How long after `g` its second key may come. */
const CHORD_MS = 1500;

function typingIn(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  const type = (target as HTMLInputElement).type;
  return !["checkbox", "radio", "button", "submit", "reset", "range", "color", "file"].includes(type);
}

/** The first field of the page's search region (role="search"), if the page has one. */
function searchField(): HTMLInputElement | null {
  return document.querySelector<HTMLInputElement>('main [role="search"] input:not([type="hidden"]):not([disabled])');
}

function focusSearch(navigate: NavigateFunction): void {
  const field = searchField();
  if (field) {
    field.focus();
    field.select();
    return;
  }
  void navigate("/tasks", { state: { focusSearch: true } });
  // The task list renders its filters on the next frames.
  let tries = 0;
  const retry = () => {
    const found = searchField();
    if (found) found.focus();
    else if ((tries += 1) < 60) requestAnimationFrame(retry);
  };
  requestAnimationFrame(retry);
}

/** `/`, `g t`, `g r`, `g d` and `?` anywhere in the signed-in app, except while typing in a field or
 * with a dialog open (its own keys come first). */
export function useShortcuts(openHelp: () => void): void {
  const navigate = useNavigate();
  const chordAt = useRef(0);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      if (typingIn(event.target) || document.querySelector('[role="dialog"][aria-modal="true"]')) {
        chordAt.current = 0;
        return;
      }
      const key = event.key;
      if (chordAt.current && Date.now() - chordAt.current < CHORD_MS) {
        chordAt.current = 0;
        const to = GO[key];
        if (to) {
          event.preventDefault();
          void navigate(to);
        }
        return;
      }
      chordAt.current = 0;
      if (key === "g") {
        chordAt.current = Date.now();
      } else if (key === "/") {
        event.preventDefault();
        focusSearch(navigate);
      } else if (key === "?") {
        event.preventDefault();
        openHelp();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [navigate, openHelp]);
}

export function ShortcutsHelp({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  return (
    <Modal opened={opened} onClose={onClose} title="Keyboard shortcuts" centered>
      <Stack>
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">Keys</Table.Th>
              <Table.Th scope="col">Does</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {SHORTCUTS.map(({ keys, what }) => (
              <Table.Tr key={keys.join(" ")}>
                <Table.Td style={{ whiteSpace: "nowrap" }}>
                  {keys.map((key, i) => (
                    <span key={key}>
                      {i > 0 && " then "}
                      <Kbd>{key}</Kbd>
                    </span>
                  ))}
                </Table.Td>
                <Table.Td>{what}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <Text size="sm">
          They do nothing while you type in a field. The HTTP API, with every operation and a way to try
          it: <Anchor href="/api/docs">API docs</Anchor>.
        </Text>
      </Stack>
    </Modal>
  );
}
