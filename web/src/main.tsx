import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import "./styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { takePrefetched } from "./api/prefetch";
import { keys, DEFAULT_TASK_LIST } from "./api/queries";
import type { Me, Stats, TaskPage } from "./api/types";
import { App } from "./App";
import { makeQueryClient, Providers } from "./Providers";

const root = document.getElementById("root");
if (!root) throw new Error("no #root element");

async function start(element: HTMLElement) {
  const client = makeQueryClient();
  // The first screen renders once, with its data, when the prefetched answers arrive quickly.
  const prefetched = await takePrefetched(400);
  const me = prefetched.get("/api/auth/me") as Me | undefined;
  if (me) client.setQueryData(keys.me, me);
  const tasks = prefetched.get("/api/tasks?limit=50&offset=0&sort=name") as TaskPage | undefined;
  if (tasks) client.setQueryData(keys.taskList(DEFAULT_TASK_LIST), tasks);
  const stats = prefetched.get("/api/stats") as Stats | undefined;
  if (stats) client.setQueryData([...keys.stats, "hour"], stats);

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
