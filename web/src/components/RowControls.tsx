import { useEffect, useRef, type ChangeEvent, type ReactNode } from "react";

/*
 * Controls repeated on every row of a table (50 rows a page): plain elements styled by styles.css.
 * Mantine's Checkbox and ActionIcon cost a dozen components each (wrappers, ids, a loader's
 * transition that sets state after mounting); a page of them was a good part of the first paint.
 */

/** A checkbox in a table row or header (indeterminate: some, not all, rows picked). */
export function RowCheckbox({
  label,
  checked,
  indeterminate = false,
  onChange,
}: {
  label: string;
  checked: boolean;
  indeterminate?: boolean;
  onChange: (event: ChangeEvent<HTMLInputElement>) => void;
}) {
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (input.current) input.current.indeterminate = indeterminate;
  }, [indeterminate]);
  return <input ref={input} type="checkbox" className="row-check" aria-label={label} checked={checked} onChange={onChange} />;
}

/** A small icon button in a table row; while `loading` it spins and cannot be pressed again. */
export function RowAction({
  label,
  title,
  loading = false,
  onClick,
  children,
}: {
  label: string;
  title: string;
  loading?: boolean;
  onClick: () => void;
  children: ReactNode;
}) {
  return (
    <button
      type="button"
      className="row-action"
      aria-label={label}
      title={title}
      disabled={loading}
      aria-busy={loading || undefined}
      data-loading={loading || undefined}
      onClick={onClick}
    >
      {loading ? <span className="row-action-spinner" aria-hidden /> : children}
    </button>
  );
}
