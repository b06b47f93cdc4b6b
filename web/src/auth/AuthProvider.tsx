import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { bearer, call, http, onUnauthorized } from "../api/client";
import { keys, useMe } from "../api/queries";
import type { Me, Role } from "../api/types";
import { getStoredKey, storeKey } from "./keyStore";

interface AuthState {
  apiKey: string | null;
  me: Me | undefined;
  loading: boolean;
  error: unknown;
  retry: () => void;
  /** Why the user was signed out, shown on the sign-in page. */
  notice: string | null;
  signIn: (key: string) => Promise<Me>;
  signOut: (notice?: string) => void;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const [apiKey, setApiKey] = useState<string | null>(() => getStoredKey());
  const [notice, setNotice] = useState<string | null>(null);
  const meQuery = useMe(apiKey !== null);

  const signOut = useCallback(
    (why?: string) => {
      storeKey(null);
      setApiKey(null);
      setNotice(why ?? null);
      client.clear();
    },
    [client],
  );

  const signIn = useCallback(
    async (key: string) => {
      const me = await call(http.GET("/api/auth/me", { headers: bearer(key) }), { quiet401: true });
      storeKey(key);
      client.clear();
      client.setQueryData(keys.me, me);
      setNotice(null);
      setApiKey(key);
      return me;
    },
    [client],
  );

  useEffect(
    () =>
      onUnauthorized(() => {
        if (getStoredKey() !== null) signOut("Your API key was not accepted (it may have been revoked). Sign in again.");
      }),
    [signOut],
  );

  // Only what consumers use goes into the value, so a background refetch of /me re-renders nothing.
  const { data: me, error, isPending, fetchStatus, refetch } = meQuery;
  const loading = apiKey !== null && isPending && fetchStatus !== "idle";
  const value = useMemo<AuthState>(
    () => ({ apiKey, me, loading, error, retry: () => void refetch(), notice, signIn, signOut }),
    [apiKey, me, loading, error, refetch, notice, signIn, signOut],
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
