import { useEffect, useState, type ReactNode } from "react";

/**
 * Renders its children only once the page has been painted: for parts nobody sees at first (the
 * notifications' container, the modals' host, the shortcuts' dialog). Several Mantine parts (portals,
 * transition groups) set state while mounting, which makes React render again and run every pending
 * effect before the browser may paint; mounted later, they cost the first paint nothing.
 */
export function AfterFirstPaint({ children }: { children: ReactNode }) {
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The frame's callback runs just before its paint; a task queued from there runs after it.
    const frame = requestAnimationFrame(() => {
      timer = setTimeout(() => setReady(true), 0);
    });
    return () => {
      cancelAnimationFrame(frame);
      if (timer !== undefined) clearTimeout(timer);
    };
  }, []);
  return ready ? children : null;
}
