import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, type RenderResult } from "@testing-library/react";
import type { ReactElement } from "react";
import { vi } from "vitest";

export function renderWithProviders(ui: ReactElement): RenderResult & { client: QueryClient } {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const result = render(
    <MantineProvider>
      <QueryClientProvider client={client}>{ui}</QueryClientProvider>
    </MantineProvider>,
  );
  return { ...result, client };
}

export interface RecordedCall {
  url: string;
  method: string;
  body: unknown;
  headers: Record<string, string>;
}

type Responder = (call: RecordedCall) => { status: number; body?: unknown } | Promise<{ status: number; body?: unknown }>;

/** Replace fetch with a function that answers from `respond` and records every call. */
export function mockFetch(respond: Responder): RecordedCall[] {
  const calls: RecordedCall[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    // The typed client sends Request objects; read method, headers and body from them.
    const request = input instanceof Request ? input : new Request(new URL(String(input), window.location.origin), init);
    const text = await request.text();
    const url = new URL(request.url);
    const call: RecordedCall = {
      url: url.origin === window.location.origin ? url.pathname + url.search : url.href,
      method: request.method,
      body: text ? JSON.parse(text) : undefined,
      headers: Object.fromEntries(request.headers.entries()),
    };
    calls.push(call);
    const { status, body } = await respond(call);
    const problem = status >= 400;
    return new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: { "Content-Type": problem ? "application/problem+json" : "application/json" },
    });
  });
  return calls;
}
