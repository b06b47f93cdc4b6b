import { DEFAULT_THEME, type MantineColorsTuple } from "@mantine/core";
import { describe, expect, it } from "vitest";
import {
  blend,
  contrast,
  cssVariablesResolver,
  DARK_SURFACES,
  darkColors,
  DIMMED,
  LIGHT_SURFACES,
  lightColors,
  MIN_CONTRAST,
  readable,
  theme,
} from "./theme";

const palettes = Object.entries(DEFAULT_THEME.colors).filter(([name]) => name !== "dark") as [string, MantineColorsTuple][];

describe("contrast", () => {
  it("matches the WCAG figures axe reported", () => {
    expect(contrast("#868e96", "#ffffff")).toBeCloseTo(3.32, 2);
    expect(contrast("#228be6", "#ffffff")).toBeCloseTo(3.55, 1);
    expect(contrast("#000000", "#ffffff")).toBeCloseTo(21, 5);
  });

  it("moves a colour only as far as it must", () => {
    expect(readable("#000000", ["#ffffff"], "#000000")).toBe("#000000");
    const darker = readable("#868e96", ["#ffffff"], "#000000");
    expect(contrast(darker, "#ffffff")).toBeGreaterThanOrEqual(MIN_CONTRAST);
    expect(contrast(blend("#ffffff", 1 / 40, darker), "#ffffff")).toBeLessThan(MIN_CONTRAST);
  });
});

describe.each(palettes)("the %s palette", (_name, palette) => {
  it("has readable text and fills in the light scheme", () => {
    const colors = lightColors(palette);
    for (const surface of [...LIGHT_SURFACES, blend(palette[6], 0.1, "#ffffff"), blend(palette[6], 0.12, "#ffffff")]) {
      expect(contrast(colors.text, surface)).toBeGreaterThanOrEqual(MIN_CONTRAST);
    }
    expect(contrast("#ffffff", colors.filled)).toBeGreaterThanOrEqual(MIN_CONTRAST);
    expect(contrast("#ffffff", colors.filledHover)).toBeGreaterThanOrEqual(MIN_CONTRAST);
  });

  it("has readable text and fills in the dark scheme", () => {
    const colors = darkColors(palette);
    for (const surface of [...DARK_SURFACES, blend(palette[6], 0.15, DARK_SURFACES[0]!), blend(palette[6], 0.2, DARK_SURFACES[0]!)]) {
      expect(contrast(colors.text, surface)).toBeGreaterThanOrEqual(MIN_CONTRAST);
    }
    expect(contrast("#ffffff", colors.filled)).toBeGreaterThanOrEqual(MIN_CONTRAST);
  });
});

describe("the theme", () => {
  it("makes dimmed text readable in both schemes", () => {
    for (const surface of LIGHT_SURFACES) expect(contrast(DIMMED.light, surface)).toBeGreaterThanOrEqual(MIN_CONTRAST);
    for (const surface of DARK_SURFACES) expect(contrast(DIMMED.dark, surface)).toBeGreaterThanOrEqual(MIN_CONTRAST);
  });

  it("sets the variables of every colour in both schemes", () => {
    const full = { ...DEFAULT_THEME, ...theme, colors: DEFAULT_THEME.colors } as typeof DEFAULT_THEME;
    const vars = cssVariablesResolver(full);
    for (const [name] of palettes) {
      for (const scheme of [vars.light, vars.dark]) {
        expect(scheme[`--mantine-color-${name}-light-color`]).toMatch(/^#[0-9a-f]{6}$/);
        expect(scheme[`--mantine-color-${name}-filled`]).toMatch(/^#[0-9a-f]{6}$/);
      }
    }
    expect(vars.light["--mantine-color-dimmed"]).toBe(DIMMED.light);
    expect(vars.dark["--mantine-color-dimmed"]).toBe(DIMMED.dark);
  });
});
