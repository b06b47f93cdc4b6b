import { Alert, Button } from "@mantine/core";
import { IconAlertTriangle } from "@tabler/icons-react";
import { ApiError } from "../api/client";

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    const fields = error.fieldErrors.map((item) => (item.field ? `${item.field}: ${item.message}` : item.message));
    return [error.message, ...fields].filter(Boolean).join(" — ");
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export function QueryError({ error, retry }: { error: unknown; retry?: () => void }) {
  const notFound = error instanceof ApiError && error.status === 404;
  return (
    <Alert color="red" icon={<IconAlertTriangle aria-hidden />} title={notFound ? "Not found" : "Could not load"} role="alert">
      {notFound ? "It may have been deleted." : errorMessage(error)}
      {retry && !notFound && (
        <Button size="xs" variant="light" color="red" ml="md" onClick={retry}>
          Try again
        </Button>
      )}
    </Alert>
  );
}
