import type { ReactNode } from "react";

/** Lets a wide table scroll sideways on narrow screens (a plain overflow box: cheap to render). */
export function ScrollX({ minWidth, children }: { minWidth: number; children: ReactNode }) {
  return (
    <div style={{ overflowX: "auto" }}>
      <div style={{ minWidth }}>{children}</div>
    </div>
  );
}
