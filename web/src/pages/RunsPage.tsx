import { Alert, Anchor, Badge, Button, Group, List, Stack, Switch, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useRetryRuns, useRunPage, type RetryTarget } from "../api/runs";
import type { RunPage } from "../api/types";
import { usePermissions } from "../auth/AuthProvider";
import { confirm } from "../components/confirm";
import { PageTitle } from "../components/PageTitle";
import { errorMessage } from "../components/QueryError";
import { RunFilters } from "../components/RunFilters";
import { RunTable } from "../components/RunTable";
import { isFiltered, MAX_BULK_RETRY, parseRunView, runCount, runViewSearch, type RunView } from "../lib/runs";

type RetryResult = { what: string; queued: { id: number; attempt: number }[]; skipped: { run_id: number; reason: string }[] };

const SKIPS_SHOWN = 20;

function RetryReport({ result, onClose }: { result: RetryResult; onClose: () => void }) {
  const { queued, skipped } = result;
  return (
    <Alert
      color={queued.length ? "teal" : "yellow"}
      title={`${result.what}: ${queued.length} retried, ${skipped.length} skipped`}
      withCloseButton
      closeButtonLabel="Dismiss the retry report"
      onClose={onClose}
      data-testid="retry-report"
    >
      {queued.length > 0 && (
        <Text size="sm">
          New attempts:{" "}
          {queued.slice(0, SKIPS_SHOWN).map((run, index) => (
            <span key={run.id}>
              {index > 0 && ", "}
              <Anchor component={Link} to={`/runs/${run.id}`}>
                #{run.id}
              </Anchor>
            </span>
          ))}
          {queued.length > SKIPS_SHOWN && ` and ${queued.length - SKIPS_SHOWN} more`}
        </Text>
      )}
      {skipped.length > 0 && (
        <List size="sm" mt="xs" data-testid="retry-skipped">
          {skipped.slice(0, SKIPS_SHOWN).map((skip) => (
            <List.Item key={skip.run_id}>
              <Anchor component={Link} to={`/runs/${skip.run_id}`}>
                #{skip.run_id}
              </Anchor>{" "}
              not retried: {skip.reason}
            </List.Item>
          ))}
          {skipped.length > SKIPS_SHOWN && <List.Item>and {skipped.length - SKIPS_SHOWN} more</List.Item>}
        </List>
      )}
    </Alert>
  );
}

/** Whether "retry all matching" can take the whole match (the API takes at most 1000 at once). */
function matchingTooMany(data: RunPage | undefined): boolean {
  return !data || data.total_exact === false || data.total > MAX_BULK_RETRY;
}

export function RunsPage() {
  const [search, setSearch] = useSearchParams();
  const view = parseRunView(search);
  const [paused, setPaused] = useState(false);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [report, setReport] = useState<RetryResult | null>(null);
  const { canOperate } = usePermissions();
  const retry = useRetryRuns();
  const params = { filter: view.filter, limit: view.size, offset: (view.page - 1) * view.size };
  const list = useRunPage(params, paused);

  const go = (next: RunView, replace = false) => setSearch(runViewSearch(next), { replace });

  const bulkRetry = async (target: RetryTarget, what: string, count: string) => {
    const ok = await confirm({
      title: `Retry ${count}?`,
      message: (
        <Stack gap="xs">
          <Text size="sm">
            {what}: <strong>{count}</strong>. Each failed, timed-out or cancelled run gets another attempt now; the others are skipped, and the
            report says why.
          </Text>
        </Stack>
      ),
      confirmLabel: `Retry ${count}`,
      danger: false,
    });
    if (!ok) return;
    try {
      const answer = await retry.mutateAsync(target);
      setReport({ what, queued: answer.queued, skipped: answer.skipped });
      setSelected(new Set());
    } catch (error) {
      notifications.show({ color: "red", title: "Could not retry", message: errorMessage(error) });
    }
  };

  const matching = runCount(list.data);
  const tooMany = matchingTooMany(list.data);
  return (
    <Stack>
      <PageTitle title="Runs">
        <Switch
          label="Live updates"
          checked={!paused}
          onChange={(event) => setPaused(!event.currentTarget.checked)}
          data-testid="live-switch"
        />
        {paused && (
          <>
            <Badge color="yellow" variant="light" data-testid="paused-badge">
              Paused
            </Badge>
            <Button size="xs" variant="default" onClick={() => void list.refetch()} loading={list.isFetching}>
              Refresh
            </Button>
          </>
        )}
      </PageTitle>
      <RunFilters
        filter={view.filter}
        onChange={(filter) => {
          setSelected(new Set());
          go({ filter, page: 1, size: view.size });
        }}
      />
      {canOperate && (
        <Group gap="sm" data-testid="bulk-bar">
          <Button
            variant="light"
            disabled={selected.size === 0}
            loading={retry.isPending}
            onClick={() => void bulkRetry({ run_ids: [...selected] }, "The selected runs", `${selected.size} selected run${selected.size === 1 ? "" : "s"}`)}
          >
            Retry selected ({selected.size})
          </Button>
          <Button
            variant="light"
            disabled={tooMany || !list.data?.total}
            loading={retry.isPending}
            onClick={() => void bulkRetry({ filter: view.filter }, isFiltered(view.filter) ? "Every run the filter matches" : "Every run", `all ${matching}`)}
          >
            Retry all matching ({matching})
          </Button>
          {list.data && tooMany && (
            <Text size="sm" c="dimmed">
              Narrow the filter to {MAX_BULK_RETRY.toLocaleString("en-US")} runs or fewer to retry them all at once.
            </Text>
          )}
        </Group>
      )}
      {report && <RetryReport result={report} onClose={() => setReport(null)} />}
      <RunTable
        filter={view.filter}
        showTask
        page={view.page}
        pageSize={view.size}
        onPageChange={(page) => go({ ...view, page })}
        onPageSizeChange={(size) => go({ ...view, size, page: 1 })}
        paused={paused}
        selected={canOperate ? selected : undefined}
        onSelectedChange={canOperate ? setSelected : undefined}
        rowActions={canOperate}
      />
    </Stack>
  );
}
