import { ActionIcon, Button, Code, Group, Switch, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconChevronDown, IconChevronUp, IconCopy, IconDownload } from "@tabler/icons-react";
import { useEffect, useMemo, useRef, useState } from "react";
import { findMatches, outputFileName, splitTruncation } from "../lib/runs";

function kib(bytes: number): string {
  return bytes < 1024 ? `${bytes} bytes` : `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KiB`;
}

/**
 * A run's kept output with tools: wrap, copy, download, search (highlighted, next/previous) and follow
 * (stay at the end while it grows; scrolling up stops following). When the server kept only the end of
 * a long output, a notice says so at the top of the log, where the cut is.
 */
export function RunOutput({ runId, output, live }: { runId: number; output: string; live: boolean }) {
  const ref = useRef<HTMLPreElement>(null);
  const [wrap, setWrap] = useState(true);
  const [follow, setFollow] = useState(true);
  const [needle, setNeedle] = useState("");
  const [current, setCurrent] = useState(0);
  const { text, dropped } = useMemo(() => splitTruncation(output), [output]);
  const segments = useMemo(() => findMatches(text, needle), [text, needle]);
  const matches = needle ? segments.filter((segment) => segment.match !== null).length : 0;
  const shown = matches ? Math.min(current, matches - 1) : 0;

  useEffect(() => {
    const element = ref.current;
    if (element && follow && !needle) element.scrollTop = element.scrollHeight;
  }, [text, follow, needle]);

  useEffect(() => {
    if (!matches) return;
    ref.current?.querySelector(`[data-match="${shown}"]`)?.scrollIntoView({ block: "nearest" });
  }, [shown, matches, needle]);

  const step = (by: number) => {
    if (matches) setCurrent((shown + by + matches) % matches);
  };

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(output);
      notifications.show({ color: "teal", message: "Output copied." });
    } catch {
      notifications.show({ color: "red", message: "The browser did not allow copying." });
    }
  };

  const download = () => {
    const url = URL.createObjectURL(new Blob([output], { type: "text/plain;charset=utf-8" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = outputFileName(runId);
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  const kept = new TextEncoder().encode(text).length;
  return (
    <>
      <Group gap="sm" wrap="wrap" data-testid="output-tools">
        <Switch label="Wrap lines" checked={wrap} onChange={(event) => setWrap(event.currentTarget.checked)} />
        <Switch
          label="Follow"
          checked={follow}
          onChange={(event) => setFollow(event.currentTarget.checked)}
          data-testid="follow-switch"
        />
        <TextInput
          aria-label="Search the output"
          placeholder="Search the output"
          size="xs"
          w={200}
          value={needle}
          onChange={(event) => {
            setNeedle(event.currentTarget.value);
            setCurrent(0);
          }}
          onKeyDown={(event) => {
            if (event.key === "Enter") step(event.shiftKey ? -1 : 1);
          }}
        />
        {needle && (
          <>
            <Text size="sm" data-testid="output-matches" aria-live="polite">
              {matches ? `${shown + 1} of ${matches}` : "no match"}
            </Text>
            <ActionIcon variant="default" aria-label="Previous match" disabled={!matches} onClick={() => step(-1)}>
              <IconChevronUp size={16} aria-hidden />
            </ActionIcon>
            <ActionIcon variant="default" aria-label="Next match" disabled={!matches} onClick={() => step(1)}>
              <IconChevronDown size={16} aria-hidden />
            </ActionIcon>
          </>
        )}
        <Button size="xs" variant="default" leftSection={<IconCopy size={14} aria-hidden />} disabled={!output} onClick={() => void copy()}>
          Copy
        </Button>
        <Button size="xs" variant="default" leftSection={<IconDownload size={14} aria-hidden />} disabled={!output} onClick={download}>
          Download
        </Button>
      </Group>
      <div style={{ position: "relative" }}>
        <Code
          block
          ref={ref}
          className="run-output"
          data-testid="run-output"
          aria-live={live && follow ? "polite" : "off"}
          aria-label="Run output"
          tabIndex={0}
          style={wrap ? undefined : { whiteSpace: "pre", wordBreak: "normal" }}
          onScroll={(event) => {
            const element = event.currentTarget;
            const atEnd = element.scrollHeight - element.scrollTop - element.clientHeight < 24;
            // Scrolling up to read stops following; coming back to the end resumes it.
            if (atEnd !== follow && !needle) setFollow(atEnd);
          }}
        >
          {dropped !== null && (
            // Sticky at the top of the log: wherever the reader has scrolled, the notice is in view.
            <span
              role="note"
              data-testid="output-truncated"
              style={{
                display: "block",
                position: "sticky",
                top: 0,
                zIndex: 1,
                whiteSpace: "normal",
                padding: "var(--mantine-spacing-xs)",
                marginBottom: "var(--mantine-spacing-xs)",
                borderRadius: "var(--mantine-radius-sm)",
                background: "var(--mantine-color-body)",
                border: "1px solid var(--mantine-color-yellow-outline)",
                color: "var(--mantine-color-text)",
              }}
            >
              Output truncated: only its end was kept, the last {kib(kept)} below; what came before is gone. Download saves what was kept.
            </span>
          )}
          {text
            ? segments.map((segment, index) =>
                segment.match === null ? (
                  segment.text
                ) : (
                  <mark
                    key={index}
                    data-match={segment.match}
                    data-current={segment.match === shown ? "true" : undefined}
                    style={segment.match === shown ? { outline: "2px solid currentColor" } : undefined}
                  >
                    {segment.text}
                  </mark>
                ),
              )
            : live
              ? "(waiting for output…)"
              : "(no output)"}
        </Code>
      </div>
    </>
  );
}
