import assert from 'node:assert/strict';
import ejs from 'ejs';
import * as eslintScope from 'eslint-scope';
import * as espree from 'espree';
import express from 'express';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createI18n, LANGUAGES } from '../../src/i18n/index.js';
import { fastTranslator } from '../../src/i18n/fast-translator.js';
import { ROLES, SERVICE_TYPES, type Role } from '../../src/domain/roles.js';
import { useViews, VIEW_LOCALS, VIEW_OPTIONS, viewsDirectory } from '../../src/web/views.js';

/** Every .ejs file under views/, relative to it. */
function viewFiles(dir = viewsDirectory): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return viewFiles(full);
    return entry.name.endsWith('.ejs') ? [path.relative(viewsDirectory, full)] : [];
  });
}

/** What EJS compiles a view into, as JavaScript source (the body of the render function). */
function compiledSource(file: string, options: object): string {
  const filename = path.join(viewsDirectory, file);
  const template = new (ejs as unknown as { Template: new (text: string, options: object) => { compile(): void; source: string } }).Template(
    readFileSync(filename, 'utf8'),
    { ...options, filename },
  );
  template.compile();
  return template.source;
}

/** The names a view reads without declaring them, other than JavaScript's own globals. */
function freeVariables(file: string): string[] {
  // The parameters of the function EJS wraps the source in.
  const wrapped = `(function (locals, escapeFn, include, rethrow) {\n${compiledSource(file, { strict: true, _with: false })}\n})`;
  const program = espree.parse(wrapped, { ecmaVersion: 2022, range: true }) as unknown as Parameters<typeof eslintScope.analyze>[0];
  const scopes = eslintScope.analyze(program, { ecmaVersion: 2022 });
  const names = new Set(scopes.globalScope?.through.map((reference) => reference.identifier.name));
  return [...names].filter((name) => !(name in globalThis) && name !== 'undefined' && name !== '__line');
}

describe('web: views compiled without `with`', () => {
  const files = viewFiles();

  it('finds the views', () => {
    assert.ok(files.includes('contacts.ejs') && files.includes(path.join('partials', 'header.ejs')), files.join(', '));
  });

  for (const file of files) {
    it(`${file}: reads only names in VIEW_LOCALS, and compiles with them declared`, () => {
      const missing = freeVariables(file).filter((name) => !(VIEW_LOCALS as readonly string[]).includes(name));
      assert.deepEqual(missing, [], `add to VIEW_LOCALS in src/web/views.ts: ${missing.join(', ')}`);
      // A name declared by the view itself as well (let/const) would be a SyntaxError here.
      assert.doesNotThrow(() => ejs.compile(readFileSync(path.join(viewsDirectory, file), 'utf8'), { ...VIEW_OPTIONS, filename: path.join(viewsDirectory, file) }));
    });
  }

  it('VIEW_LOCALS names nothing that no view reads', () => {
    const read = new Set(files.flatMap(freeVariables));
    assert.deepEqual(VIEW_LOCALS.filter((name) => !read.has(name)), []);
  });

  it('is how an app set up with useViews renders (EJS ignores Express\'s "view options")', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'contact-consent-views-'));
    try {
      // Through with(locals) an undeclared name would be found; compiled the app's way it is not.
      writeFileSync(path.join(directory, 'probe.ejs'), '<%= title %>|<%= typeof notALocal %>|<%= this === undefined %>');
      const app = express();
      useViews(app, { cache: true, directory });
      const html = await new Promise<string>((resolve, reject) =>
        app.render('probe', { title: 'T', notALocal: 1 }, (error, out) => (error ? reject(error) : resolve(out as string))),
      );
      assert.equal(html, 'T|undefined|true');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('renders a missing optional local as undefined, not as a ReferenceError', () => {
    const render = ejs.compile('<%= typeof error === "undefined" ? "none" : error %>|<%= locals.user ? "in" : "out" %>', { ...VIEW_OPTIONS });
    assert.equal(render({}), 'none|out');
    assert.equal(render({ error: '<b>', user: {} }), '&lt;b&gt;|in');
  });
});

describe('web: the contacts page renders as a one-byte string', () => {
  // V8 keeps a string whose characters all fit in Latin-1 at one byte per character. One character
  // above U+00FF anywhere in the page (a typed "…" in the pagination) made every contacts page whose
  // pagination shows a gap two bytes per character: twice the memory to build and copy out, about
  // 5 % of the page's throughput (npm run bench). The template writes such characters as entities
  // (&hellip;). A flash message may still bring one (an em dash), on the one page that shows it.
  const i18n = createI18n();
  const rows = Array.from({ length: 50 }, (_, i) => {
    const mine = ROLES[i % 3] as Role;
    const ref = (id: number) => ({ id, handle: `H${id}-OVH` });
    return {
      id: i + 1,
      name: `service-${i + 1}.example`,
      type: SERVICE_TYPES[i % SERVICE_TYPES.length],
      admin: ref(mine === 'admin' ? 1 : 10 + i),
      tech: ref(mine === 'tech' ? 1 : 20 + i),
      billing: ref(mine === 'billing' ? 1 : 30 + i),
      myRoles: [mine],
      pending: i % 7 === 0,
    };
  });

  for (const language of LANGUAGES) {
    it(`${language}: page 100 of 200, with both pagination gaps, a pending badge and every label, has no character above U+00FF`, async () => {
      const html = await ejs.renderFile(path.join(viewsDirectory, 'contacts.ejs'), {
        t: fastTranslator(i18n, language),
        title: 'Contacts',
        user: { id: 1, handle: 'H1-OVH' },
        csrfToken: () => 'token',
        currentPath: '/contacts',
        returnPath: '/contacts?page=100',
        flash: [],
        language,
        htmlLang: language,
        query: { q: '', sort: 'name', page: 100 },
        result: { rows, total: 10_000, page: 100, pageCount: 200, pageSize: 50 },
        types: SERVICE_TYPES,
        roles: ROLES,
        pageUrl: (page: number) => `/contacts?page=${page}`,
      }, VIEW_OPTIONS);
      const wide = [...new Set([...html].filter((char) => char.charCodeAt(0) > 0xff))];
      assert.deepEqual(wide, [], `write these as entities: ${wide.map((char) => `U+${char.charCodeAt(0).toString(16).toUpperCase()}`).join(', ')}`);
      assert.equal(html.match(/&hellip;/g)?.length, 2, 'both gaps of the pagination are rendered');
      assert.ok(html.includes('badge--pending'));
    });
  }
});
