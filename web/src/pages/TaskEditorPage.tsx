import { Alert, Button, Skeleton, Stack } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import { useMemo, useState, type ReactNode } from "react";
import { useNavigate, useParams, useSearchParams } from "react-router";
import { ApiError } from "../api/client";
import { fetchTask, keys, useSaveTask, useTask } from "../api/queries";
import type { Task, TaskSpec } from "../api/types";
import { usePermissions } from "../auth/AuthProvider";
import { PageTitle } from "../components/PageTitle";
import { errorMessage, QueryError } from "../components/QueryError";
import { ConflictBox } from "../editor/ConflictBox";
import { TaskForm } from "../editor/TaskForm";
import { duplicateForm, emptyForm, formFromTask, specFromTask, type TaskFormValues } from "../editor/taskForm";
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
  const [params] = useSearchParams();
  const from = Number(params.get("from"));
  if (Number.isInteger(from) && from > 0) return <DuplicateTask id={from} />;
  return <NewTask />;
}

function NewTask() {
  const initial = useMemo(() => emptyForm(browserTimeZone), []);
  return <CreateForm title="New task" initial={initial} />;
}

/** /tasks/new?from=ID: a new task prefilled from another one. */
function DuplicateTask({ id }: { id: number }) {
  const query = useTask(id);
  const source = query.data;
  const initial = useMemo(() => (source ? duplicateForm(source, browserTimeZone) : null), [source]);
  if (query.isError) return <QueryError error={query.error} retry={() => void query.refetch()} />;
  if (!source || !initial) return <Skeleton h={400} />;
  const secrets = initial.action.headers.length + initial.action.env.length;
  return (
    <CreateForm
      title={`Duplicate “${source.name}”`}
      initial={initial}
      banner={
        <Alert color="blue" data-testid="duplicate-notice">
          A copy of “{source.name}”: nothing is saved until you create it.
          {secrets > 0 && " Secret values are never shown, so enter each header or variable value again."}
        </Alert>
      }
    />
  );
}

function CreateForm({ title, initial, banner }: { title: string; initial: TaskFormValues; banner?: ReactNode }) {
  const save = useSaveTask();
  const navigate = useNavigate();
  return (
    <Stack>
      <PageTitle title={title} />
      <TaskForm
        initialValues={initial}
        submitLabel="Create task"
        banner={banner}
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

  const fetchFresh = () => client.fetchQuery({ queryKey: keys.task(id), queryFn: () => fetchTask(id), staleTime: 0 });

  const loadTheirs = async () => {
    const fresh = await fetchFresh();
    setBase(fresh);
    setConflict(null);
    setResetKey((n) => n + 1);
  };

  const showConflict = (spec: TaskSpec) => {
    setConflict({ spec, latest: null });
    void fetchFresh()
      .then((fresh) => setConflict({ spec, latest: fresh }))
      .catch(() => undefined);
  };

  const saveOver = async (spec: TaskSpec, over: Task | null) => {
    try {
      const target = over ?? (await fetchFresh());
      const task = await save.mutateAsync({ id, spec, version: target.version });
      setConflict(null);
      finish(task);
    } catch (error) {
      if (error instanceof ApiError && error.status === 412 && over) {
        // Changed once more while deciding: compare again from the version just merged with.
        setBase(over);
        showConflict(spec);
      } else notifications.show({ color: "red", title: "Not saved", message: errorMessage(error) });
    }
  };

  let banner = null;
  if (conflict) {
    const theirs = conflict.latest;
    banner = (
      <ConflictBox
        base={{ version: base.version, spec: specFromTask(base, browserTimeZone) }}
        theirs={theirs ? { version: theirs.version, spec: specFromTask(theirs, browserTimeZone) } : null}
        yours={conflict.spec}
        saving={save.isPending}
        onSaveMerged={(merged) => void saveOver(merged, theirs)}
        onOverwrite={() => void saveOver(conflict.spec, null)}
        onLoadTheirs={() => void loadTheirs()}
      />
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
        onConflict={showConflict}
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
