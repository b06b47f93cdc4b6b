import { useEffect, useRef, useState, type ReactNode } from "react";

/**
 * Lets a wide table scroll sideways on narrow screens (a plain overflow box: cheap to render). Positioned,
 * so that absolutely placed content (a visually-hidden header label) is clipped by it too instead of
 * widening the whole page on a phone. While its content is wider than it, the box takes the keyboard
 * focus (arrow keys scroll it), as a table of plain text has nothing else focusable to scroll to.
 */
export function ScrollX({ minWidth, label = "Table (scrolls sideways)", children }: { minWidth: number; label?: string; children: ReactNode }) {
  const box = useRef<HTMLDivElement>(null);
  const [scrolls, setScrolls] = useState(false);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const measure = () => setScrolls(element.scrollWidth > element.clientWidth + 1);
    // No measuring here: reading the sizes now would lay the whole page out before its first paint.
    // A ResizeObserver reports each observed element once after the next layout, which measures it.
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    // The content can widen without the box changing size (longer text arriving).
    if (element.firstElementChild) observer.observe(element.firstElementChild);
    return () => observer.disconnect();
  }, []);
  return (
    <div
      ref={box}
      style={{ overflowX: "auto", position: "relative" }}
      {...(scrolls ? { tabIndex: 0, role: "group", "aria-label": label } : {})}
    >
      <div style={{ minWidth }}>{children}</div>
    </div>
  );
}
