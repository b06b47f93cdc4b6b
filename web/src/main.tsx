import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import "./styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { takePrefetched } from "./api/prefetch";
import { keys, DEFAULT_TASK_LIST, fetchMe, fetchStats, fetchTaskList } from "./api/queries";
import { fetchRunPage, firstRunPage } from "./api/runs";
import type { Me, RunPage, Stats, TaskPage } from "./api/types";
import { App } from "./App";
import { makeQueryClient, Providers } from "./Providers";

const root = document.getElementById("root");
if (!root) throw new Error("no #root element");

async function start(element: HTMLElement) {
  const client = makeQueryClient();
  // The first screen renders once, with its data, when the prefetched answers arrive quickly.
  const prefetched = await takePrefetched(400);
  // An answer that came in time fills its query; one still on its way becomes that query's first
  // fetch (and should it fail, the query asks again itself).
  const seed = <T,>(url: string, queryKey: readonly unknown[], fetch: (signal: AbortSignal) => Promise<T>) => {
    const ready = prefetched.ready.get(url);
    if (ready !== undefined) {
      client.setQueryData(queryKey, ready as T);
      return;
    }
    const late = prefetched.pending.get(url);
    if (late) {
      void client.prefetchQuery({
        queryKey,
        queryFn: async ({ signal }) => ((await late) as T | null) ?? fetch(signal),
      });
    }
  };
  seed<Me>("/api/auth/me", keys.me, fetchMe);
  seed<TaskPage>("/api/tasks?limit=50&offset=0&sort=name", keys.taskList(DEFAULT_TASK_LIST), (signal) =>
    fetchTaskList(DEFAULT_TASK_LIST, signal),
  );
  seed<Stats>("/api/stats", [...keys.stats, "hour"], (signal) => fetchStats("hour", signal));
  const runs = firstRunPage();
  seed<RunPage>(runs.url, [...keys.runs, "page", runs.params], (signal) => fetchRunPage(runs.params, signal));

  createRoot(element).render(
    <StrictMode>
      <BrowserRouter>
        <Providers client={client}>
          <App />
        </Providers>
      </BrowserRouter>
    </StrictMode>,
  );
}

void start(root);
