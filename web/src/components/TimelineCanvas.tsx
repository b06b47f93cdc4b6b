import { Paper, Text, useComputedColorScheme, useMantineTheme } from "@mantine/core";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { RunSpans, RunStatus } from "../api/types";
import { STATUS_COLORS } from "../lib/format";
import { describeRun } from "../timeline/describe";
import { extent, hitTest, layoutByTask, layoutOverall, ticks, toTime, toX, type Scale, type TimelineMode } from "../timeline/layout";

const ROW_H = 22;
const AXIS_H = 26;
const GUTTER = 180;
const MAX_VIEW_H = 560;

declare global {
  interface Window {
    /** Milliseconds each full draw of the timeline took (read by the browser tests' measurement). */
    __timelineDraws?: number[];
  }
}

interface Props {
  spans: RunSpans;
  mode: TimelineMode;
  from: number;
  to: number;
  onOpen: (runId: number, newTab: boolean) => void;
  onPickTask?: (taskId: number) => void;
  onZoom?: (factor: number, center: number) => void;
}

interface Hover {
  index: number;
  x: number;
  y: number;
}

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayAndTime = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

/**
 * Runs as bars on a <canvas>: one row per task (or lanes of every run), a light part for the wait in
 * the queue and a solid part, in the outcome's colour, for the run itself. Only the rows in view are
 * drawn (the canvas stays put while a tall spacer scrolls), so ten thousand runs cost a few
 * milliseconds and no DOM nodes.
 */
export function TimelineCanvas({ spans, mode, from, to, onOpen, onPickTask, onZoom }: Props) {
  const theme = useMantineTheme();
  const scheme = useComputedColorScheme("light");
  const scroller = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(900);
  const [scrollTop, setScrollTop] = useState(0);
  const [hover, setHover] = useState<Hover | null>(null);
  const now = Date.parse(spans.now);
  const layout = useMemo(() => (mode === "task" ? layoutByTask(spans) : layoutOverall(spans, now)), [spans, mode, now]);
  const laidOut = useMemo(() => layout.byRow.reduce((total, row) => total + row.length, 0), [layout]);
  const bodyH = Math.max(layout.rows.length, 1) * ROW_H;
  const viewH = Math.min(bodyH + AXIS_H, MAX_VIEW_H);
  const scale: Scale = useMemo(() => ({ from, to, left: GUTTER, width: Math.max(100, width - GUTTER - 8) }), [from, to, width]);

  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const observer = new ResizeObserver(() => setWidth(element.clientWidth));
    observer.observe(element);
    setWidth(element.clientWidth);
    return () => observer.disconnect();
  }, []);

  const colors = useMemo(() => {
    const shade = scheme === "dark" ? 5 : 7;
    const status = {} as Record<RunStatus, string>;
    for (const [name, color] of Object.entries(STATUS_COLORS)) status[name as RunStatus] = theme.colors[color]?.[shade] ?? "#888";
    return {
      status,
      wait: scheme === "dark" ? theme.colors.gray[6] : theme.colors.gray[4],
      text: scheme === "dark" ? theme.colors.dark[0] : theme.black,
      dim: scheme === "dark" ? theme.colors.dark[2] : theme.colors.gray[7],
      grid: scheme === "dark" ? theme.colors.dark[4] : theme.colors.gray[3],
      stripe: scheme === "dark" ? theme.colors.dark[6] : theme.colors.gray[0],
      bg: scheme === "dark" ? theme.colors.dark[7] : theme.white,
      retry: scheme === "dark" ? theme.white : theme.black,
    };
  }, [theme, scheme]);

  useEffect(() => {
    const element = canvas.current;
    const context = element?.getContext("2d");
    if (!element || !context) return;
    const started = performance.now();
    const ratio = window.devicePixelRatio || 1;
    if (element.width !== Math.round(width * ratio) || element.height !== Math.round(viewH * ratio)) {
      element.width = Math.round(width * ratio);
      element.height = Math.round(viewH * ratio);
    }
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.fillStyle = colors.bg;
    context.fillRect(0, 0, width, viewH);
    const firstRow = Math.floor(scrollTop / ROW_H);
    const lastRow = Math.min(layout.rows.length - 1, Math.ceil((scrollTop + viewH - AXIS_H) / ROW_H));
    const offsetY = AXIS_H - scrollTop;
    // Stripes and the grid.
    for (let r = firstRow; r <= lastRow; r++) {
      if (r % 2) {
        context.fillStyle = colors.stripe;
        context.fillRect(0, offsetY + r * ROW_H, width, ROW_H);
      }
    }
    const axis = ticks(scale, 90, -new Date(from).getTimezoneOffset());
    context.fillStyle = colors.grid;
    for (const t of axis.times) context.fillRect(Math.round(toX(scale, t)), AXIS_H, 1, viewH - AXIS_H);
    // The runs: the wait, then the run; a dark edge marks a retry (attempt 2 and later).
    const left = scale.left;
    const right = scale.left + scale.width;
    for (let r = firstRow; r <= lastRow; r++) {
      const y = offsetY + r * ROW_H + 3;
      const h = ROW_H - 6;
      const runs = layout.byRow[r];
      if (!runs) continue;
      for (let k = 0; k < runs.length; k++) {
        const i = runs[k]!;
        const e = extent(spans, i, now);
        if (e.end < from || e.ready > to) continue;
        const x0 = Math.max(left, toX(scale, e.ready));
        const x1 = Math.max(left, Math.min(right, toX(scale, e.start)));
        const x2 = Math.min(right, toX(scale, e.end));
        if (x1 > x0) {
          context.fillStyle = colors.wait;
          context.fillRect(x0, y + h / 2 - 2, x1 - x0, 4);
        }
        const status = spans.status[i] as RunStatus;
        context.fillStyle = colors.status[status] ?? colors.dim;
        if (spans.started[i] === null || spans.started[i] === undefined) {
          context.fillRect(Math.min(x2, right - 2), y, 2, h); // never started: a tick where it ended
        } else {
          context.fillRect(x1, y, Math.max(1, x2 - x1), h);
        }
        if ((spans.attempt[i] ?? 1) > 1 && x2 - x1 > 3) {
          context.fillStyle = colors.retry;
          context.fillRect(x1, y, 2, h);
        }
      }
    }
    // The gutter with the row labels, and the axis over everything.
    context.fillStyle = colors.bg;
    context.fillRect(0, AXIS_H, GUTTER - 4, viewH - AXIS_H);
    context.font = `12px ${theme.fontFamily ?? "sans-serif"}`;
    context.textBaseline = "middle";
    for (let r = firstRow; r <= lastRow; r++) {
      const row = layout.rows[r];
      if (!row) continue;
      const y = offsetY + r * ROW_H + ROW_H / 2;
      if (y < AXIS_H) continue;
      context.fillStyle = row.taskId !== undefined ? colors.text : colors.dim;
      const label = row.label.length > 24 ? `${row.label.slice(0, 23)}…` : row.label;
      context.fillText(label, 8, y);
    }
    context.fillStyle = colors.bg;
    context.fillRect(0, 0, width, AXIS_H);
    context.fillStyle = colors.grid;
    context.fillRect(0, AXIS_H - 1, width, 1);
    context.fillStyle = colors.dim;
    const labelFormat = axis.step >= 3_600_000 * 3 || to - from > 86_400_000 ? dayAndTime : timeOfDay;
    for (const t of axis.times) {
      const x = toX(scale, t);
      const label = labelFormat.format(new Date(t));
      // A label that would run past the canvas's edge (a narrow phone) is left out, not cut off.
      if (x > right - 30 || x + 3 + context.measureText(label).width > width) continue;
      context.fillText(label, x + 3, AXIS_H / 2);
    }
    if (now >= from && now <= to) {
      context.fillStyle = theme.colors.red[7];
      context.fillRect(Math.round(toX(scale, now)), AXIS_H, 1, viewH - AXIS_H);
    }
    const took = performance.now() - started;
    element.dataset.drawMs = took.toFixed(2);
    (window.__timelineDraws ??= []).push(took);
    element.dataset.drawn = String(window.__timelineDraws.length);
  }, [spans, layout, scale, scrollTop, width, viewH, colors, from, to, now, theme]);

  const locate = useCallback(
    (event: React.MouseEvent<HTMLCanvasElement>) => {
      const rect = event.currentTarget.getBoundingClientRect();
      const x = event.clientX - rect.left;
      const y = event.clientY - rect.top;
      if (y < AXIS_H) return null;
      const row = Math.floor((y - AXIS_H + scrollTop) / ROW_H);
      if (row < 0 || row >= layout.rows.length) return null;
      if (x < GUTTER) return { row, index: null as number | null, x, y };
      const t = toTime(scale, x);
      const slack = (3 / scale.width) * (to - from); // 3 px either side
      return { row, index: hitTest(spans, layout, row, t, slack, now), x, y };
    },
    [layout, scale, scrollTop, spans, from, to, now],
  );

  const hovered = hover ? hover.index : null;
  const details = hovered !== null ? describeRun(spans, hovered, now) : null;

  return (
    <div style={{ position: "relative" }}>
      <div
        ref={scroller}
        style={{ height: viewH, overflowY: "auto", overflowX: "hidden", position: "relative" }}
        onScroll={(event) => setScrollTop(event.currentTarget.scrollTop)}
        data-testid="timeline-scroller"
      >
        <div style={{ height: bodyH + AXIS_H, position: "relative" }}>
          <canvas
            ref={canvas}
            data-testid="timeline-canvas"
            // The geometry, for tests and tools that point at a run: the window (Unix ms), where the
            // plot starts and how wide it is (CSS px), the rows' height under the axis, the runs laid out
            // and the start of the window they were fetched for (while a new window loads, the last one's).
            data-from={from}
            data-to={to}
            data-plot-left={scale.left}
            data-plot-width={scale.width}
            data-axis-height={AXIS_H}
            data-row-height={ROW_H}
            data-rows={layout.rows.length}
            data-laid-out={laidOut}
            data-spans-from={Date.parse(spans.from)}
            role="img"
            aria-label={`Timeline of ${spans.id.length} runs in ${layout.rows.length} ${mode === "task" ? "task rows" : "lanes"}; hover a bar for details, click it to open the run.`}
            style={{ position: "sticky", top: 0, width, height: viewH, display: "block", cursor: hovered !== null ? "pointer" : "default" }}
            // Pointer events, not mouse events: Chromium gives their coordinates in fractions of a
            // pixel, and zoomed out to a day a pixel is two minutes, the width of a whole run.
            onPointerMove={(event) => {
              const spot = locate(event);
              setHover(spot && spot.index !== null ? { index: spot.index, x: spot.x, y: spot.y } : null);
            }}
            onPointerLeave={() => setHover(null)}
            onClick={(event) => {
              const spot = locate(event);
              if (!spot) return;
              if (spot.index !== null) onOpen(spans.id[spot.index]!, event.ctrlKey || event.metaKey);
              else if (spot.x < GUTTER) {
                const taskId = layout.rows[spot.row]?.taskId;
                if (taskId !== undefined) onPickTask?.(taskId);
              }
            }}
            onWheel={(event) => {
              if (!onZoom || !(event.ctrlKey || event.metaKey)) return;
              event.preventDefault();
              const rect = event.currentTarget.getBoundingClientRect();
              onZoom(event.deltaY > 0 ? 1.5 : 1 / 1.5, toTime(scale, event.clientX - rect.left));
            }}
          />
        </div>
      </div>
      {details && hover && (
        <Paper
          withBorder
          shadow="sm"
          p="xs"
          data-testid="timeline-tooltip"
          style={{ position: "absolute", left: Math.min(hover.x + 12, width - 260), top: Math.min(hover.y + 12, viewH - 10), width: 250, pointerEvents: "none", zIndex: 2 }}
        >
          <Text size="sm" fw={600}>
            {details.task} · run #{details.id}
          </Text>
          {details.lines.map((line) => (
            <Text size="xs" key={line}>
              {line}
            </Text>
          ))}
        </Paper>
      )}
    </div>
  );
}
