// The translation catalogues are complete: every key exists in every language (all parts, with the
// plural forms each language needs and the same {{placeholders}}), and every key the code uses —
// found by a static scan of the views, the web layer and the domain's error keys — exists.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDecision, REQUEST_STATES } from '../../src/domain/consent-rules.js';
import { ROLES, SERVICE_TYPES } from '../../src/domain/roles.js';
import { LANGUAGES, loadCatalogue, type Language } from '../../src/i18n/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const localesDirectory = path.join(root, 'src', 'i18n', 'locales');

// The values a dynamic key (`t('roles.' + role)`, t(`states.${state}`), key: `errors.owner.${field}Required`)
// can take. A dynamic key whose shape is not listed here fails the test: declare its variants.
const DECISIONS = ['accept', 'refuse'] as const;
const EVENTS = ['created', 'accepted', 'refused', 'applied', 'failed', 'cancelled', 'expired', 'resent', 'reminded'] as const;
const FAILURE_REASONS = ['contactsChanged', 'requesterNoLongerAllowed', 'billingOverdue'] as const;
const OWNER_TEXT_FIELDS = ['street', 'postalCode', 'city'] as const;
/** Statuses the error handler can answer with (DomainError subclasses and classify()), plus its default. */
const ERROR_TITLES = ['default', '400', '403', '404', '409', '413', '422', '429', '500'] as const;

const VARIANTS: Record<string, readonly string[]> = {
  'roles.*': ROLES,
  'serviceTypes.*': SERVICE_TYPES,
  'states.*': REQUEST_STATES,
  'decisions.*': DECISIONS,
  'events.*': EVENTS,
  'failureReasons.*': FAILURE_REASONS,
  'errors.title.*': ERROR_TITLES,
  'errors.owner.*Required': OWNER_TEXT_FIELDS,
  'errors.owner.*Format': OWNER_TEXT_FIELDS,
  'errors.owner.*Characters': OWNER_TEXT_FIELDS,
  'languages.*': LANGUAGES,
};

const PLURAL_SUFFIX = /_(zero|one|two|few|many|other)$/;

type Flat = Map<string, string>;

function flatten(value: unknown, prefix: string, out: Flat, where: string): Flat {
  if (typeof value === 'string') {
    out.set(prefix, value);
    return out;
  }
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `${where}: "${prefix}" is neither a string nor an object`);
  for (const [key, child] of Object.entries(value)) flatten(child, prefix ? `${prefix}.${key}` : key, out, where);
  return out;
}

/** Catalogue files by language: `<lang>.json` and every `<lang>.<part>.json`. */
function filesOf(language: Language): string[] {
  return readdirSync(localesDirectory)
    .filter((file) => file === `${language}.json` || (file.startsWith(`${language}.`) && file.endsWith('.json') && file.split('.').length === 3))
    .sort();
}

const catalogues = new Map<Language, Flat>(LANGUAGES.map((language) => [language, flatten(loadCatalogue(language), '', new Map(), language)]));

/** Plural categories a language needs for whole numbers. */
function pluralCategories(language: Language): string[] {
  return [...new Intl.PluralRules(language).resolvedOptions().pluralCategories].sort();
}

/** Base keys: plural forms `x_one`, `x_other` count as `x`. */
function baseKeys(flat: Flat): Map<string, string[]> {
  const bases = new Map<string, string[]>();
  for (const key of flat.keys()) {
    const base = key.replace(PLURAL_SUFFIX, '');
    bases.set(base, [...(bases.get(base) ?? []), key]);
  }
  return bases;
}

function placeholders(text: string): string[] {
  return [...text.matchAll(/\{\{\s*([\w.]+)\s*(?:,[^}]*)?\}\}/g)].map((match) => match[1] ?? '');
}

/** Whether `key` resolves in `language`: as is, or as a complete set of plural forms. */
function hasKey(language: Language, key: string): boolean {
  const flat = catalogues.get(language) as Flat;
  if (flat.has(key)) return true;
  return pluralCategories(language).every((category) => flat.has(`${key}_${category}`));
}

function walk(directory: string, extension: string): string[] {
  return readdirSync(path.join(root, directory), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith(extension))
    .map((file) => path.join(directory, file))
    .sort();
}

interface Use {
  key: string;
  file: string;
  line: number;
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

/** Keys used by a source file: static keys and dynamic ones expanded with VARIANTS (unknown shapes are reported). */
function scan(file: string, patterns: { regex: RegExp; group?: number }[]): { uses: Use[]; unknownDynamic: Use[] } {
  const text = readFileSync(path.join(root, file), 'utf8');
  const uses: Use[] = [];
  const unknownDynamic: Use[] = [];
  const addDynamic = (prefix: string, suffix: string, index: number) => {
    const shape = `${prefix}*${suffix}`;
    const variants = VARIANTS[shape];
    if (!variants) unknownDynamic.push({ key: shape, file, line: lineOf(text, index) });
    else for (const variant of variants) uses.push({ key: `${prefix}${variant}${suffix}`, file, line: lineOf(text, index) });
  };
  for (const { regex } of patterns) {
    for (const match of text.matchAll(regex)) {
      const groups = match.groups ?? {};
      const index = match.index ?? 0;
      if (groups.plain !== undefined) uses.push({ key: groups.plain, file, line: lineOf(text, index) });
      else if (groups.concat !== undefined) addDynamic(groups.concat, '', index);
      else if (groups.template !== undefined) {
        const parts = groups.template.split(/\$\{[^}]*\}/);
        if (parts.length === 1) uses.push({ key: groups.template, file, line: lineOf(text, index) });
        else if (parts.length === 2) addDynamic(parts[0] ?? '', parts[1] ?? '', index);
        else unknownDynamic.push({ key: groups.template, file, line: lineOf(text, index) });
      }
    }
  }
  return { uses, unknownDynamic };
}

// t('key'), req.t('key'), res.locals.t('key'); t('prefix.' + x); t(`prefix.${x}suffix`). Not foo.get('x') etc.
const T_CALLS = [
  { regex: /(?<![\w$])t\(\s*'(?<plain>[^'\n]+)'\s*[,)]/g },
  { regex: /(?<![\w$])t\(\s*"(?<plain>[^"\n]+)"\s*[,)]/g },
  { regex: /(?<![\w$])t\(\s*'(?<concat>[^'\n]*)'\s*\+/g },
  { regex: /(?<![\w$])t\(\s*`(?<template>[^`\n]+)`/g },
];
// Message keys handed to the translation later: `key: '…'` (flash messages, field errors), `key: x ?? '…'`,
// `key: \`…${x}…\``, and the keys given to error classes: new NotFoundError('errors.…').
const MESSAGE_KEYS = [
  { regex: /\bkey:\s*(?:[^,'`}\n]*\?\?\s*)?'(?<plain>[^'\n]+)'/g },
  { regex: /\bkey:\s*`(?<template>[^`\n]+)`/g },
  { regex: /\bnew \w+Error\(\s*'(?<plain>[^'\n]+)'/g },
];

const sources = [
  ...walk('views', '.ejs').map((file) => ({ file, patterns: T_CALLS })),
  ...walk('src/web', '.ts').map((file) => ({ file, patterns: [...T_CALLS, ...MESSAGE_KEYS] })),
  ...walk('src/domain', '.ts').map((file) => ({ file, patterns: MESSAGE_KEYS })),
];

describe('i18n: translation catalogues', () => {
  it('every language has the same parts', () => {
    const parts = (language: Language) => filesOf(language).map((file) => file.slice(language.length));
    const [first, ...others] = LANGUAGES;
    for (const language of others) assert.deepEqual(parts(language), parts(first), `catalogue files of ${language} and ${first} differ`);
  });

  it('every key (all parts) exists in every language, with the plural forms each language needs', () => {
    const problems: string[] = [];
    const bases = new Map(LANGUAGES.map((language) => [language, baseKeys(catalogues.get(language) as Flat)]));
    const allBases = new Set(LANGUAGES.flatMap((language) => [...(bases.get(language) as Map<string, string[]>).keys()]));
    for (const base of [...allBases].sort()) {
      const plural = LANGUAGES.some((language) => bases.get(language)?.get(base)?.some((key) => key !== base));
      for (const language of LANGUAGES) {
        const forms = bases.get(language)?.get(base);
        if (!forms) {
          problems.push(`${language}: missing "${base}" (present in ${LANGUAGES.filter((other) => bases.get(other)?.has(base)).join(', ')})`);
          continue;
        }
        if (!plural) continue;
        for (const category of pluralCategories(language)) {
          if (!forms.includes(`${base}_${category}`)) problems.push(`${language}: missing plural form "${base}_${category}"`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it('a key has the same {{placeholders}} in every language and no empty text', () => {
    const problems: string[] = [];
    const byLanguage = new Map(
      LANGUAGES.map((language) => {
        const flat = catalogues.get(language) as Flat;
        const vars = new Map<string, Set<string>>();
        for (const [key, value] of flat) {
          if (value.trim() === '') problems.push(`${language}: "${key}" is empty`);
          const base = key.replace(PLURAL_SUFFIX, '');
          const set = vars.get(base) ?? new Set<string>();
          for (const name of placeholders(value)) if (name !== 'count') set.add(name);
          vars.set(base, set);
        }
        return [language, vars] as const;
      }),
    );
    const [first, ...others] = LANGUAGES;
    for (const [base, expected] of byLanguage.get(first) ?? []) {
      for (const language of others) {
        const actual = byLanguage.get(language)?.get(base);
        if (!actual) continue;
        const a = [...expected].sort().join(', ');
        const b = [...actual].sort().join(', ');
        if (a !== b) problems.push(`"${base}": ${first} uses {${a}}, ${language} uses {${b}}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('the lists of dynamic key variants match the domain', () => {
    for (const decision of DECISIONS) assert.ok(isDecision(decision), `${decision} is not a decision`);
    const requests = readFileSync(path.join(root, 'src/domain/change-requests.ts'), 'utf8');
    const events = new Set([...requests.matchAll(/recordEvent\([^,]+,[^,]+,\s*'(\w+)'/g), ...requests.matchAll(/\bevent:\s*'(\w+)'/g)].map((m) => m[1] ?? ''));
    assert.ok(events.size > 0, 'no event found in change-requests.ts');
    for (const event of events) assert.ok((EVENTS as readonly string[]).includes(event), `event "${event}" is missing from EVENTS`);
    const reasons = new Set([...requests.matchAll(/\breason = '(\w+)'/g), ...requests.matchAll(/\bfailureReason:\s*'(\w+)'/g)].map((m) => m[1] ?? ''));
    assert.ok(reasons.size > 0, 'no failure reason found in change-requests.ts');
    for (const reason of reasons) assert.ok((FAILURE_REASONS as readonly string[]).includes(reason), `failure reason "${reason}" is missing from FAILURE_REASONS`);
    const owner = readFileSync(path.join(root, 'src/domain/owner-details.ts'), 'utf8');
    const fields = [...owner.matchAll(/\btext\(input\.\w+,\s*'(\w+)'/g)].map((m) => m[1] ?? '');
    assert.ok(fields.length > 0, 'no owner text field found in owner-details.ts');
    for (const field of fields) assert.ok((OWNER_TEXT_FIELDS as readonly string[]).includes(field), `owner field "${field}" is missing from OWNER_TEXT_FIELDS`);
  });

  it('every key used in the views, the web layer and the domain exists in every language', () => {
    const problems: string[] = [];
    let count = 0;
    for (const { file, patterns } of sources) {
      const { uses, unknownDynamic } = scan(file, patterns);
      for (const use of unknownDynamic) problems.push(`${use.file}:${use.line}: dynamic key "${use.key}" — list its variants in VARIANTS`);
      for (const use of uses) {
        count += 1;
        for (const language of LANGUAGES) {
          if (!hasKey(language, use.key)) problems.push(`${use.file}:${use.line}: "${use.key}" is missing in ${language}`);
        }
      }
    }
    assert.ok(count > 200, `the scan found only ${count} keys: are the regular expressions still right?`);
    assert.deepEqual(problems, []);
  });

  it('the views show no text that does not go through t()', () => {
    const problems: string[] = [];
    for (const file of walk('views', '.ejs')) {
      const source = readFileSync(path.join(root, file), 'utf8');
      // Attributes people read or hear, written literally.
      for (const match of source.matchAll(/\b(aria-label|title|alt|placeholder|data-msg-[\w-]+)="([^"]*)"/g)) {
        const literal = (match[2] ?? '').replace(/<%[\s\S]*?%>/g, '');
        if (/\p{L}/u.test(literal)) problems.push(`${file}: ${match[1]}="${match[2]}"`);
      }
      // Words written as string literals in EJS output tags (`<%= cond ? 'Yes' : 'No' %>`).
      for (const block of source.match(/<%[=-][\s\S]*?%>/g) ?? []) {
        for (const literal of block.match(/'[^'\n]*'|"[^"\n]*"/g) ?? []) {
          if (/^.\p{Lu}\p{Ll}|\p{L}\s+\p{L}/u.test(literal)) problems.push(`${file}: literal text ${literal} in ${block.slice(0, 60)}`);
        }
      }
      const text = source
        .replace(/<%[\s\S]*?%>/g, ' ')
        .replace(/<!--[\s\S]*?-->/g, ' ')
        .replace(/<(script|style)[\s\S]*?<\/\1>/g, ' ')
        .replace(/<[^>]*>/g, ' ')
        .replace(/&[#\w]+;/g, ' ');
      for (const word of text.match(/\p{L}[\p{L}'’-]*/gu) ?? []) problems.push(`${file}: literal text "${word}"`);
    }
    assert.deepEqual(problems, []);
  });
});
