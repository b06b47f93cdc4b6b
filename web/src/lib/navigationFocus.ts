// Focus moves to the page's heading when the route changes (as a full page load would announce the new
// page to a screen reader). The layout marks a navigation; the next page heading that renders takes the
// focus (PageTitle), whenever its data arrives.
let pending = false;

export function markNavigation(): void {
  pending = true;
}

/** Whether a heading should take the focus now; true once per navigation. */
export function takeNavigationFocus(): boolean {
  const was = pending;
  pending = false;
  return was;
}
