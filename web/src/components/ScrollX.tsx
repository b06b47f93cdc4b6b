import type { ReactNode } from "react";

/**
 * Lets a wide table scroll sideways on narrow screens (a plain overflow box: cheap to render). Positioned,
 * so that absolutely placed content (a visually-hidden header label) is clipped by it too instead of
 * widening the whole page on a phone.
 */
export function ScrollX({ minWidth, children }: { minWidth: number; children: ReactNode }) {
  return (
    <div style={{ overflowX: "auto", position: "relative" }}>
      <div style={{ minWidth }}>{children}</div>
    </div>
  );
}
