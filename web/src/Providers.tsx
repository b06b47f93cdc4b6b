import { localStorageColorSchemeManager, MantineProvider } from "@mantine/core";
import { ModalsProvider } from "@mantine/modals";
import { Notifications } from "@mantine/notifications";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { ApiError } from "./api/client";
import { AuthProvider } from "./auth/AuthProvider";
import { AfterFirstPaint } from "./components/AfterFirstPaint";
import { cssVariablesResolver, theme } from "./theme";


const colorSchemeManager = localStorageColorSchemeManager({ key: "tasksched.colorScheme" });

export function makeQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        refetchOnWindowFocus: true,
        // 4xx answers won't change on retry; network blips might.
        retry: (count, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
      },
      mutations: { retry: false },
    },
  });
}

export function Providers({ children, client }: { children: ReactNode; client?: QueryClient }) {
  const [queryClient] = useState(() => client ?? makeQueryClient());
  return (
    <MantineProvider theme={theme} cssVariablesResolver={cssVariablesResolver} defaultColorScheme="auto" colorSchemeManager={colorSchemeManager}>
      <QueryClientProvider client={queryClient}>
        {/* Nothing uses the modals' context: confirm() goes through `modals`, which signals the
            provider by window events, so it can live beside the app and come after the first paint. */}
        <AfterFirstPaint>
          <ModalsProvider />
          <Notifications position="bottom-right" />
        </AfterFirstPaint>
        <AuthProvider>{children}</AuthProvider>
      </QueryClientProvider>
    </MantineProvider>
  );
}
