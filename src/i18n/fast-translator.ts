// i18next copies and merges its options on every call (~15 µs; a plural ~100 µs) and a page
// makes hundreds of calls: a contacts page of 50 rows spent a tenth of its CPU time there. Almost
// every call is option-less, only fills {{placeholders}}, or picks a plural form by `count`, and
// those answers can be computed from catalogue strings compiled once. Everything else (context,
// defaults, nesting, formats, ordinals) still goes to i18next, so results are identical; a test
// compares both on every catalogue key.
import type { i18n as I18n, TFunction } from 'i18next';

/** Options that change which string i18next picks or how: calls with any of them are not shortcut. */
const I18NEXT_OPTIONS = new Set([
  'context',
  'defaultValue',
  'lng',
  'lngs',
  'fallbackLng',
  'ns',
  'keySeparator',
  'nsSeparator',
  'returnObjects',
  'returnDetails',
  'joinArrays',
  'postProcess',
  'interpolation',
  'skipInterpolation',
  'replace',
  'ordinal',
]);

/** A catalogue string cut at its {{name}} placeholders: literal, name, literal, name, …, literal. */
type Template = readonly string[];

const PLACEHOLDER = /\{\{\s*([A-Za-z_$][\w$]*)\s*\}\}/g;
/** Markup that only i18next knows how to handle: nesting, formats, unescaped placeholders. */
const ADVANCED = /\$t\(|\{\{-|\{\{[^}]*,/;

function compile(text: string): Template | null {
  if (ADVANCED.test(text)) return null;
  const parts = text.split(PLACEHOLDER);
  // Any other braces ({{a.b}}, unbalanced ones) are i18next's to interpret.
  for (let i = 0; i < parts.length; i += 2) if ((parts[i] as string).includes('{{')) return null;
  return parts;
}

function fill(template: Template, values: Record<string, unknown>): string | undefined {
  let out = template[0] as string;
  for (let i = 1; i < template.length; i += 2) {
    const value = values[template[i] as string];
    // i18next leaves a missing value's placeholder as is and formats objects its own way.
    if (typeof value === 'string') out += value;
    else if (typeof value === 'number') out += String(value);
    else return undefined;
    out += template[i + 1] as string;
  }
  return out;
}

function plainValues(options: unknown): options is Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return false;
  for (const key in options) if (I18NEXT_OPTIONS.has(key)) return false;
  return true;
}

/**
 * A translator for one language with the same answers as `i18n.getFixedT(language)`: option-less
 * calls are remembered, and calls that only fill placeholders use the catalogue string compiled once.
 */
export function fastTranslator(i18n: I18n, language: string): TFunction {
  const t = i18n.getFixedT(language) as unknown as (...args: unknown[]) => unknown;
  const plain = new Map<string, string>();
  const templates = new Map<string, Template | null>();
  const plurals = new Intl.PluralRules(language);

  function templateOf(key: string): Template | null {
    let template = templates.get(key);
    if (template === undefined) {
      // Only strings found in the reader's own catalogue: fallbacks and missing keys stay with i18next.
      const text: unknown = i18n.getResource(language, 'translation', key);
      template = typeof text === 'string' ? compile(text) : null;
      templates.set(key, template);
    }
    return template;
  }

  const translate = (key: unknown, ...rest: unknown[]): unknown => {
    if (typeof key === 'string') {
      if (rest.length === 0) {
        let value = plain.get(key);
        if (value === undefined) {
          value = String(t(key));
          plain.set(key, value);
        }
        return value;
      }
      if (rest.length === 1 && plainValues(rest[0])) {
        const values = rest[0];
        let template: Template | null;
        if (!('count' in values)) template = templateOf(key);
        else if (typeof values.count !== 'number' || !Number.isFinite(values.count)) template = null;
        // i18next prefers key_zero for 0 when the catalogue has it, then the language's plural form.
        else template = (values.count === 0 ? templateOf(`${key}_zero`) : null) ?? templateOf(`${key}_${plurals.select(values.count)}`);
        const value = template ? fill(template, values) : undefined;
        if (value !== undefined) return value;
      }
    }
    return t(key, ...rest);
  };
  return Object.assign(translate, t) as unknown as TFunction;
}
