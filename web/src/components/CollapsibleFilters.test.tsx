import { fireEvent, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { renderWithProviders } from "../test/render";
import { CollapsibleFilters } from "./CollapsibleFilters";

/** Make every media query match (a phone) or none (a desktop), as the browser would answer. */
function screenIs(phone: boolean) {
  vi.spyOn(window, "matchMedia").mockImplementation(
    (query: string) =>
      ({
        matches: phone,
        media: query,
        onchange: null,
        addListener: vi.fn(),
        removeListener: vi.fn(),
        addEventListener: vi.fn(),
        removeEventListener: vi.fn(),
        dispatchEvent: vi.fn(),
      }) as MediaQueryList,
  );
}

function filters(active: number) {
  return renderWithProviders(
    <CollapsibleFilters label="Filter things" active={active}>
      <input aria-label="Search" />
    </CollapsibleFilters>,
  );
}

describe("CollapsibleFilters", () => {
  it("folds the fields behind a button that counts the active filters on a phone", () => {
    screenIs(true);
    filters(2);
    const toggle = screen.getByRole("button", { name: "Filters (2 active)" });
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    const region = screen.getByRole("search", { name: "Filter things", hidden: true });
    const fold = document.getElementById(toggle.getAttribute("aria-controls") ?? "");
    expect(fold?.contains(region)).toBe(true);
    expect(fold?.hidden).toBe(true);
    fireEvent.click(toggle);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    expect(fold?.hidden).toBe(false);
    expect(screen.getByRole("search", { name: "Filter things" }).contains(screen.getByLabelText("Search"))).toBe(true);
  });

  it("keeps a field's draft while folded", () => {
    screenIs(true);
    filters(0);
    const toggle = screen.getByRole("button");
    fireEvent.click(toggle);
    fireEvent.change(screen.getByLabelText("Search"), { target: { value: "half-typed" } });
    fireEvent.click(toggle);
    fireEvent.click(toggle);
    expect((screen.getByLabelText("Search") as HTMLInputElement).value).toBe("half-typed");
  });

  it("says only “Filters” when nothing narrows the list", () => {
    screenIs(true);
    filters(0);
    expect(screen.getByRole("button").textContent).toBe("Filters");
  });

  it("shows the fields with no button on a wide screen", () => {
    screenIs(false);
    filters(3);
    expect(screen.queryByRole("button")).toBeNull();
    expect(screen.getByRole("search", { name: "Filter things" }).contains(screen.getByLabelText("Search"))).toBe(true);
  });
});
