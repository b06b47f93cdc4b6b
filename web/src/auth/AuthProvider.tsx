import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { bearer, call, http, onUnauthorized } from "../api/client";
import { keys, useMe } from "../api/queries";
import type { Me, Role } from "../api/types";
import { getStoredKey, hasSessionHint, storeKey } from "./keyStore";

/**
 * Signed in by the session cookie (POST /api/session, HttpOnly: the page never holds the key) or by a
 * key in this tab's session storage. "checking": a new tab (Ctrl+click on a link) that sees the
 * session's hint cookie asks /api/auth/me whether the cookie still works. Without the hint it does not
 * ask: every 401 counts against the address's failed authentications.
 */
export type Session = "checking" | "in" | "out";

interface AuthState {
  session: Session;
  signedIn: boolean;
  me: Me | undefined;
  loading: boolean;
  error: unknown;
  retry: () => void;
  /** Why the user was signed out, shown on the sign-in page. */
  notice: string | null;
  signIn: (key: string, remember?: boolean) => Promise<Me>;
  signOut: (notice?: string) => void;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const [session, setSession] = useState<Session>(() => {
    if (getStoredKey() !== null || client.getQueryData(keys.me) !== undefined) return "in";
    return hasSessionHint() ? "checking" : "out";
  });
  const sessionRef = useRef(session);
  useEffect(() => {
    sessionRef.current = session;
  }, [session]);
  const [notice, setNotice] = useState<string | null>(null);
  const meQuery = useMe(session === "in");

  useEffect(() => {
    if (session !== "checking") return;
    let current = true;
    call(http.GET("/api/auth/me"), { quiet401: true }).then(
      (me) => {
        if (!current) return;
        client.setQueryData(keys.me, me);
        setSession("in");
      },
      () => {
        if (current) setSession("out");
      },
    );
    return () => {
      current = false;
    };
  }, [session, client]);

  const signOut = useCallback(
    (why?: string) => {
      storeKey(null);
      setSession("out");
      setNotice(why ?? null);
      client.clear();
      // Clears the cookie for every tab of the browser; needs no valid key (a revoked one's too).
      void call(http.DELETE("/api/session"), { quiet401: true }).catch(() => undefined);
    },
    [client],
  );

  const signIn = useCallback(
    async (key: string, remember = false) => {
      const me = await call(http.POST("/api/session", { headers: bearer(key), body: { remember } }), { quiet401: true });
      storeKey(null);
      client.clear();
      client.setQueryData(keys.me, me);
      setNotice(null);
      setSession("in");
      return me;
    },
    [client],
  );

  useEffect(
    () =>
      onUnauthorized(() => {
        if (sessionRef.current === "in") signOut("Your API key was not accepted (it may have been revoked). Sign in again.");
      }),
    [signOut],
  );

  // Only what consumers use goes into the value, so a background refetch of /me re-renders nothing.
  const { data: me, error, isPending, fetchStatus, refetch } = meQuery;
  const signedIn = session === "in";
  const loading = signedIn && isPending && fetchStatus !== "idle";
  const value = useMemo<AuthState>(
    () => ({ session, signedIn, me, loading, error, retry: () => void refetch(), notice, signIn, signOut }),
    [session, signedIn, me, loading, error, refetch, notice, signIn, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

export interface Permissions {
  role: Role | undefined;
  /** False while the role is still being fetched. */
  known: boolean;
  /** run now, pause, resume, cancel */
  canOperate: boolean;
  /** create, edit, delete tasks; manage keys */
  canAdmin: boolean;
}

export function permissionsFor(role: Role | undefined): Permissions {
  const rank = role ? RANK[role] : -1;
  return { role, known: role !== undefined, canOperate: rank >= RANK.operator, canAdmin: rank >= RANK.admin };
}

export function usePermissions(): Permissions {
  return permissionsFor(useAuth().me?.role);
}
