import { Table } from "@mantine/core";
import type { ComponentPropsWithoutRef } from "react";

/**
 * A body row and its cells for long Mantine tables, as plain elements carrying the classes and data
 * attributes Mantine's own `Table.Tr`/`Table.Td` render: the same look, without a theme lookup, a context
 * read, a styles resolution and a `Box` (with its style-prop parsing) for each cell. A page of 50 rows has
 * some 350 cells, and that work was the largest part of React's first render of the tasks and runs pages.
 * The table around them must be a Mantine `Table`, which sets the variables the classes read.
 */
export function Td({ className, ...props }: ComponentPropsWithoutRef<"td">) {
  return <td className={className ? `${Table.classes.td} ${className}` : Table.classes.td} {...props} />;
}

/**
 * `striped` and `hover` repeat the table's `striped` and `highlightOnHover`, and `rowBorder` its
 * `withRowBorders` (on by default), which Mantine's own row reads from the table's context.
 */
export function Tr({
  className,
  striped = false,
  hover = false,
  rowBorder = true,
  ...props
}: ComponentPropsWithoutRef<"tr"> & { striped?: boolean; hover?: boolean; rowBorder?: boolean }) {
  return (
    <tr
      className={className ? `${Table.classes.tr} ${className}` : Table.classes.tr}
      data-striped={striped ? "odd" : undefined}
      data-hover={hover || undefined}
      data-with-row-border={rowBorder || undefined}
      {...props}
    />
  );
}
