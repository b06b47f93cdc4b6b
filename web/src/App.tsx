import { Center, Loader } from "@mantine/core";
import { lazy, Suspense } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";
import { useLiveEvents } from "./api/events";
import { useAuth } from "./auth/AuthProvider";
import { Layout } from "./components/Layout";
import { QueryError } from "./components/QueryError";
import { DashboardPage } from "./pages/DashboardPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { RunDetailPage } from "./pages/RunDetailPage";
import { RunsPage } from "./pages/RunsPage";
import { SignInPage } from "./pages/SignInPage";
import { TaskDetailPage } from "./pages/TaskDetailPage";
import { TasksPage } from "./pages/TasksPage";
import { WorkersPage } from "./pages/WorkersPage";

// The editor and the admin pages are the heaviest, least visited pages: load them on demand.
const TaskEditorPage = lazy(() => import("./pages/TaskEditorPage"));
const KeysPage = lazy(() => import("./pages/KeysPage"));
const AuditPage = lazy(() => import("./pages/AuditPage"));
// The status page draws two charts (recharts): loaded when visited.
const StatusPage = lazy(() => import("./pages/StatusPage"));
const NotificationsPage = lazy(() => import("./pages/NotificationsPage"));
// The calendar of upcoming runs: a planning page, loaded when visited.
const UpcomingPage = lazy(() => import("./pages/UpcomingPage"));
const TimelinePage = lazy(() => import("./pages/TimelinePage"));

function Loading() {
  return (
    <Center h={200}>
      <Loader aria-label="Loading" />
    </Center>
  );
}

function SignedInApp() {
  const { signedIn } = useAuth();
  useLiveEvents(signedIn);
  return (
    <Layout>
      <Suspense fallback={<Loading />}>
        <Routes>
          <Route path="/" element={<DashboardPage />} />
          <Route path="/tasks" element={<TasksPage />} />
          <Route path="/tasks/new" element={<TaskEditorPage />} />
          <Route path="/tasks/:taskId" element={<TaskDetailPage />} />
          <Route path="/tasks/:taskId/edit" element={<TaskEditorPage />} />
          <Route path="/upcoming" element={<UpcomingPage />} />
          <Route path="/runs" element={<RunsPage />} />
          <Route path="/runs/:runId" element={<RunDetailPage />} />
          <Route path="/workers" element={<WorkersPage />} />
          <Route path="/timeline" element={<TimelinePage />} />
          <Route path="/status" element={<StatusPage />} />
          <Route path="/keys" element={<KeysPage />} />
          <Route path="/audit" element={<AuditPage />} />
          <Route path="/notifications" element={<NotificationsPage />} />
          <Route path="/signin" element={<Navigate to="/" replace />} />
          <Route path="*" element={<NotFoundPage />} />
        </Routes>
      </Suspense>
    </Layout>
  );
}

export function App() {
  const { session, me, loading, error, retry } = useAuth();
  const location = useLocation();
  if (session === "checking") {
    return (
      <Center h={300} component="main" aria-busy="true">
        <Loader aria-label="Checking whether this browser is signed in" />
      </Center>
    );
  }
  if (session === "out") {
    if (location.pathname !== "/signin") {
      const next = location.pathname + location.search;
      return <Navigate to={next === "/" ? "/signin" : `/signin?next=${encodeURIComponent(next)}`} replace />;
    }
    return <SignInPage />;
  }
  // The pages render while /api/auth/me is on its way (their queries start at once); controls that
  // depend on the role appear when it arrives.
  if (!me && error && !loading) {
    return (
      <Center h={300} p="md">
        <QueryError error={error} retry={retry} />
      </Center>
    );
  }
  if (location.pathname === "/signin") {
    const next = new URLSearchParams(location.search).get("next");
    return <Navigate to={next && next.startsWith("/") && !next.startsWith("//") ? next : "/"} replace />;
  }
  return <SignedInApp />;
}
