import { Button } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useCancelRun } from "../api/queries";
import { useRetryRuns } from "../api/runs";
import type { Run } from "../api/types";
import { RETRYABLE } from "../lib/runs";
import { confirm } from "./confirm";
import { errorMessage } from "./QueryError";

/** Retry (a run that ended badly) or cancel (one queued or running): the run lists' row action. */
export function RowActions({ run }: { run: Run }) {
  const retry = useRetryRuns();
  const cancel = useCancelRun();
  if (RETRYABLE.includes(run.status)) {
    const doRetry = async () => {
      try {
        const result = await retry.mutateAsync({ run_ids: [run.id] });
        const [next] = result.queued;
        if (next) notifications.show({ color: "teal", message: `Run #${run.id} retried: attempt ${next.attempt} is run #${next.id}.` });
        else notifications.show({ color: "yellow", title: `Run #${run.id} not retried`, message: result.skipped[0]?.reason ?? "" });
      } catch (error) {
        notifications.show({ color: "red", title: "Could not retry", message: errorMessage(error) });
      }
    };
    return (
      <Button size="compact-xs" variant="light" loading={retry.isPending} onClick={() => void doRetry()} aria-label={`Retry run #${run.id}`}>
        Retry
      </Button>
    );
  }
  if (run.status === "queued" || run.status === "running") {
    const doCancel = async () => {
      const ok = await confirm({
        title: `Cancel run #${run.id}?`,
        message: run.status === "running" ? "The running action is stopped." : "The run will not start.",
        confirmLabel: "Cancel run",
      });
      if (!ok) return;
      try {
        await cancel.mutateAsync(run.id);
        notifications.show({ color: "teal", message: `Cancellation of run #${run.id} requested.` });
      } catch (error) {
        notifications.show({ color: "red", title: "Could not cancel", message: errorMessage(error) });
      }
    };
    return (
      <Button
        size="compact-xs"
        variant="light"
        color="red"
        loading={cancel.isPending}
        disabled={run.cancel_requested}
        onClick={() => void doCancel()}
        aria-label={`Cancel run #${run.id}`}
      >
        {run.cancel_requested ? "Cancelling…" : "Cancel"}
      </Button>
    );
  }
  return null;
}
