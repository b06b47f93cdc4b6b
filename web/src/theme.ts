// The Mantine theme, with colours that pass WCAG AA (4.5:1 for text) in both colour schemes.
//
// Mantine's defaults draw text in the palette's middle shades: dimmed text is gray 6 (#868e96, 3.3:1 on
// white), a light badge's label is its colour's shade 6 on a 10% tint of it (blue 3.2:1, teal 2.3:1,
// yellow 1.7:1), white on a filled blue button is 3.6:1, and dimmed text in the dark scheme is 4.0:1.
// Instead of a list of hand-picked shades, each colour's text and fill are derived here from the
// palette: the usual shade, moved towards black (light scheme) or white (dark scheme) only as far as
// it takes to reach the contrast against every background it is drawn on. Unit tests
// (theme.test.ts) check each pair; the browser tests run axe-core on every page in both schemes.
import {
  Anchor,
  Modal,
  ModalHeader,
  createTheme,
  DEFAULT_THEME,
  type CSSVariablesResolver,
  type MantineColorsTuple,
} from "@mantine/core";

/** The contrast text needs (WCAG 2 AA for normal text), with a little margin for rounding. */
export const MIN_CONTRAST = 4.6;

type Rgb = [number, number, number];

export function parseHex(hex: string): Rgb {
  const value = hex.replace("#", "");
  const full = value.length === 3 ? [...value].map((c) => c + c).join("") : value;
  return [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16)) as Rgb;
}

export function toHex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((c) => Math.round(c).toString(16).padStart(2, "0")).join("")}`;
}

function channel(value: number): number {
  const s = value / 255;
  return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
}

function luminance([r, g, b]: Rgb): number {
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

/** WCAG 2 contrast ratio of two opaque colours. */
export function contrast(a: string, b: string): number {
  const [la, lb] = [luminance(parseHex(a)), luminance(parseHex(b))];
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** `color` at `opacity` over the opaque `background`. */
export function blend(color: string, opacity: number, background: string): string {
  const [c, b] = [parseHex(color), parseHex(background)];
  const mix = (i: 0 | 1 | 2) => c[i] * opacity + b[i] * (1 - opacity);
  return toHex([mix(0), mix(1), mix(2)]);
}

/** `color` moved towards `target` (black or white) in small steps until it reaches `MIN_CONTRAST`
 * against every one of `backgrounds`. */
export function readable(color: string, backgrounds: string[], target: "#000000" | "#ffffff"): string {
  for (let step = 0; step <= 40; step += 1) {
    const candidate = blend(target, step / 40, color);
    if (backgrounds.every((bg) => contrast(candidate, bg) >= MIN_CONTRAST)) return candidate;
  }
  return target;
}

const WHITE = DEFAULT_THEME.white;
const BLACK = "#000000";
const gray = DEFAULT_THEME.colors.gray;
const dark = DEFAULT_THEME.colors.dark;

/** Where text is drawn in the light scheme: the body, the grey of hovered and striped rows, code. */
export const LIGHT_SURFACES = [WHITE, gray[0], gray[1]];
/** And in the dark scheme: the body (dark 7), papers and inputs (dark 6), hovered rows (dark 5). */
export const DARK_SURFACES = [dark[7], dark[6], dark[5]];

export interface SchemeColors {
  /** Text, anchors, outlines and the labels of light badges and buttons. */
  text: string;
  /** A filled variant's background, under white text. */
  filled: string;
  filledHover: string;
}

/** The colours the light scheme uses for one palette. */
export function lightColors(palette: MantineColorsTuple): SchemeColors {
  const light = blend(palette[6], 0.1, WHITE);
  const lightHover = blend(palette[6], 0.12, WHITE);
  // Mantine's light variant: a 10% (hovered 12%) tint of shade 6, kept.
  const behind = [...LIGHT_SURFACES, light, lightHover, blend(palette[6], 0.12, gray[1])];
  const filled = readable(palette[6], [WHITE], BLACK);
  return {
    text: readable(palette[6], behind, BLACK),
    filled,
    filledHover: readable(blend(BLACK, 0.12, filled), [WHITE], BLACK),
  };
}

/** The colours the dark scheme uses for one palette. */
export function darkColors(palette: MantineColorsTuple): SchemeColors {
  const tint = palette[6];
  const light = blend(tint, 0.15, dark[7]);
  const lightHover = blend(tint, 0.2, dark[7]);
  // Mantine's light variant: a 15% (hovered 20%) tint of shade 6, kept.
  const behind = [...DARK_SURFACES, light, lightHover, blend(tint, 0.2, dark[5])];
  const filled = readable(palette[8], [WHITE], BLACK);
  return {
    text: readable(palette[3], behind, "#ffffff"),
    filled,
    filledHover: readable(blend(BLACK, 0.12, filled), [WHITE], BLACK),
  };
}

function colorVariables(name: string, colors: SchemeColors): Record<string, string> {
  return {
    [`--mantine-color-${name}-text`]: colors.text,
    [`--mantine-color-${name}-light-color`]: colors.text,
    [`--mantine-color-${name}-outline`]: colors.text,
    [`--mantine-color-${name}-filled`]: colors.filled,
    [`--mantine-color-${name}-filled-hover`]: colors.filledHover,
  };
}

/** Dimmed text: gray 6 (light) and dark 2 (dark) by default, made readable on every surface. */
export const DIMMED = {
  light: readable(gray[6], LIGHT_SURFACES, BLACK),
  dark: readable(dark[2], DARK_SURFACES, "#ffffff"),
};

const PRIMARY = "blue";

export const cssVariablesResolver: CSSVariablesResolver = (theme) => {
  const light: Record<string, string> = {};
  const darkVars: Record<string, string> = {};
  for (const [name, palette] of Object.entries(theme.colors)) {
    if (name === "dark" || !Array.isArray(palette) || palette.length < 10) continue;
    Object.assign(light, colorVariables(name, lightColors(palette as MantineColorsTuple)));
    Object.assign(darkVars, colorVariables(name, darkColors(palette as MantineColorsTuple)));
  }
  const red = theme.colors.red;
  return {
    variables: {},
    light: {
      ...light,
      "--mantine-color-dimmed": DIMMED.light,
      "--mantine-color-anchor": lightColors(theme.colors[PRIMARY]).text,
      "--mantine-color-error": lightColors(red).text,
    },
    dark: {
      ...darkVars,
      "--mantine-color-dimmed": DIMMED.dark,
      "--mantine-color-anchor": darkColors(theme.colors[PRIMARY]).text,
      "--mantine-color-error": darkColors(red).text,
    },
  };
};

export const theme = createTheme({
  primaryColor: PRIMARY,
  defaultRadius: "sm",
  fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
  fontFamilyMonospace: "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace",
  components: {
    // A link in a sentence must not differ by colour alone.
    Anchor: Anchor.extend({ defaultProps: { underline: "always" } }),
    Modal: Modal.extend({
      defaultProps: {
        // Mantine's close button is an icon with no name.
        closeButtonProps: { "aria-label": "Close dialog" },
      },
    }),
    // The dialog's <header> would count as a second banner landmark beside the page's.
    ModalHeader: ModalHeader.extend({ defaultProps: { role: "none" } }),
  },
});
