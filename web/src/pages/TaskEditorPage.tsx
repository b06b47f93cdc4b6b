import { Alert, Button, Group, Skeleton, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useNavigate, useParams } from "react-router";
import { fetchTask, keys, useSaveTask, useTask } from "../api/queries";
import type { Task, TaskSpec } from "../api/types";
import { usePermissions } from "../auth/AuthProvider";
import { PageTitle } from "../components/PageTitle";
import { errorMessage, QueryError } from "../components/QueryError";
import { TaskForm } from "../editor/TaskForm";
import { emptyForm, formFromTask } from "../editor/taskForm";
import { browserTimeZone } from "../lib/format";

function NotAllowed() {
  return (
    <Stack>
      <PageTitle title="Edit task" />
      <Alert color="gray">Only admins create and edit tasks.</Alert>
    </Stack>
  );
}

function CreateTask() {
  const save = useSaveTask();
  const navigate = useNavigate();
  const initial = useMemo(() => emptyForm(browserTimeZone), []);
  return (
    <Stack>
      <PageTitle title="New task" />
      <TaskForm
        initialValues={initial}
        submitLabel="Create task"
        onCancel={() => void navigate("/tasks")}
        onSave={async (spec) => {
          const task = await save.mutateAsync({ spec });
          notifications.show({ color: "teal", message: `Created “${task.name}”.` });
          void navigate(`/tasks/${task.id}`);
        }}
      />
    </Stack>
  );
}

function EditTask({ id }: { id: number }) {
  const query = useTask(id);
  const save = useSaveTask();
  const navigate = useNavigate();
  const client = useQueryClient();
  // The version the form was loaded from: saves send it as If-Match.
  const [base, setBase] = useState<Task | null>(null);
  const [resetKey, setResetKey] = useState(0);
  const [conflict, setConflict] = useState<{ spec: TaskSpec; latest: Task | null } | null>(null);

  if (query.data && base === null) setBase(query.data);
  const initial = useMemo(() => (base ? formFromTask(base, browserTimeZone) : null), [base]);

  if (query.isError && !base) return <QueryError error={query.error} retry={() => void query.refetch()} />;
  if (!base || !initial) return <Skeleton h={400} />;
  const latest = query.data;
  const changedMeanwhile = latest && latest.version !== base.version;

  const finish = (task: Task) => {
    notifications.show({ color: "teal", message: `Saved “${task.name}”.` });
    void navigate(`/tasks/${task.id}`);
  };

  const loadTheirs = async () => {
    const fresh = await client.fetchQuery({ queryKey: keys.task(id), queryFn: () => fetchTask(id), staleTime: 0 });
    setBase(fresh);
    setConflict(null);
    setResetKey((n) => n + 1);
  };

  const overwrite = async () => {
    if (!conflict) return;
    try {
      const fresh = await client.fetchQuery({ queryKey: keys.task(id), queryFn: () => fetchTask(id), staleTime: 0 });
      const task = await save.mutateAsync({ id, spec: conflict.spec, version: fresh.version });
      setConflict(null);
      finish(task);
    } catch (error) {
      notifications.show({ color: "red", title: "Not saved", message: errorMessage(error) });
    }
  };

  let banner = null;
  if (conflict) {
    banner = (
      <Alert color="orange" title="Someone else changed this task" role="alert" data-testid="conflict">
        <Text size="sm">
          The task was changed since you opened it (you started from version {base.version}
          {conflict.latest ? `, it is now version ${conflict.latest.version}` : ""}). Your changes were not saved, so nothing was
          overwritten.
        </Text>
        <Group mt="sm" gap="xs">
          <Button size="xs" variant="light" onClick={() => void loadTheirs()}>
            Load their version (discard mine)
          </Button>
          <Button size="xs" color="orange" onClick={() => void overwrite()} loading={save.isPending}>
            Save mine over theirs
          </Button>
        </Group>
      </Alert>
    );
  } else if (changedMeanwhile) {
    banner = (
      <Alert color="yellow" title="Changed elsewhere" data-testid="changed-meanwhile">
        This task was changed by someone else while you were editing (now version {latest.version}). Saving will ask before
        overwriting their change.{" "}
        <Button size="compact-xs" variant="subtle" onClick={() => void loadTheirs()}>
          Load their version
        </Button>
      </Alert>
    );
  }

  return (
    <Stack>
      <PageTitle title={`Edit “${base.name}”`} />
      <TaskForm
        key={`${id}-${resetKey}`}
        initialValues={initial}
        submitLabel="Save changes"
        banner={banner}
        onCancel={() => void navigate(`/tasks/${id}`)}
        onConflict={(spec) => {
          setConflict({ spec, latest: null });
          void client
            .fetchQuery({ queryKey: keys.task(id), queryFn: () => fetchTask(id), staleTime: 0 })
            .then((fresh) => setConflict({ spec, latest: fresh }))
            .catch(() => undefined);
        }}
        onSave={async (spec) => {
          const task = await save.mutateAsync({ id, spec, version: base.version });
          finish(task);
        }}
      />
    </Stack>
  );
}

export default function TaskEditorPage() {
  const { taskId } = useParams();
  const { canAdmin, known } = usePermissions();
  if (!known) return <Skeleton h={400} />;
  if (!canAdmin) return <NotAllowed />;
  if (taskId === undefined) return <CreateTask />;
  return <EditTask id={Number(taskId)} />;
}
