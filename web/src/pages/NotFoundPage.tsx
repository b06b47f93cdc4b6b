import { Button, Stack, Text } from "@mantine/core";
import { Link } from "react-router";
import { PageTitle } from "../components/PageTitle";

export function NotFoundPage() {
  return (
    <Stack>
      <PageTitle title="Page not found" />
      <Text>There is nothing at this address.</Text>
      <Button component={Link} to="/" w="fit-content">
        Go to the dashboard
      </Button>
    </Stack>
  );
}
