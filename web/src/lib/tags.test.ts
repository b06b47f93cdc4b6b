import { describe, expect, it } from "vitest";
import { tagOptions } from "./tags";

describe("tag picker options", () => {
  it("lists the suggestions with their counts, and keeps picked tags as options", () => {
    const { options, counts } = tagOptions(
      [
        { tag: "ops", tasks: 12 },
        { tag: "billing", tasks: 3 },
      ],
      ["billing", "nightly"],
    );
    expect(options.map((option) => option.value)).toEqual(["ops", "billing", "nightly"]);
    expect(counts.get("ops")).toBe(12);
    // A picked tag not among the suggestions has no count to show.
    expect(counts.has("nightly")).toBe(false);
  });
});
