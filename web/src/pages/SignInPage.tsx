import { Alert, Anchor, Button, Center, Checkbox, Paper, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { IconClock } from "@tabler/icons-react";
import { useEffect, useState, type FormEvent } from "react";
import { ApiError } from "../api/client";
import { useAuth } from "../auth/AuthProvider";

export function SignInPage() {
  const { signIn, notice } = useAuth();
  const [key, setKey] = useState("");
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    document.title = "Sign in · tasksched";
  }, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      setError("Enter an API key.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await signIn(trimmed, remember);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) setError("This API key was not accepted.");
      else if (err instanceof ApiError) setError(err.message);
      else setError("Could not reach the server.");
    } finally {
      setBusy(false);
    }
  };

  return (
    <Center mih="100vh" p="md" component="main">
      <Paper withBorder shadow="sm" p="xl" w={420} maw="100%">
        <form onSubmit={submit} noValidate aria-labelledby="signin-title">
          <Stack>
            <Stack gap={4} align="center">
              <IconClock size={36} aria-hidden />
              <Title order={1} size="h2" id="signin-title">
                Sign in to tasksched
              </Title>
              <Text size="sm" c="dimmed" ta="center">
                Paste an API key. The first admin key is printed when the server first starts (or set with
                TASKSCHED_BOOTSTRAP_KEY); admins can create more under API keys.
              </Text>
            </Stack>
            {notice && (
              <Alert color="yellow" role="status">
                {notice}
              </Alert>
            )}
            <PasswordInput
              label="API key"
              name="api-key"
              autoComplete="current-password"
              value={key}
              onChange={(event) => setKey(event.currentTarget.value)}
              error={error}
              data-autofocus
              autoFocus
              required
            />
            <Checkbox
              label="Remember on this device for 30 days"
              checked={remember}
              onChange={(event) => setRemember(event.currentTarget.checked)}
            />
            <Button type="submit" loading={busy} fullWidth>
              Sign in
            </Button>
            <Text size="xs" c="dimmed" ta="center">
              Signing in sets a cookie that only this server receives and this page cannot read; every tab
              of the browser is signed in until you sign out or close the browser (or for 30 days if
              remembered). Scripts use the key directly: see the{" "}
              <Anchor href="/api/docs" size="xs">
                API docs
              </Anchor>
              .
            </Text>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
