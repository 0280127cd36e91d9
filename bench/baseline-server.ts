// The contacts-page baseline: a bare Express 5 + EJS server rendering the same page template
// (views/contacts.ejs with its header and footer) with 50 rows held in memory. No session, no
// database, no CSRF, no i18n (t() returns the key), no helmet, no logging, and EJS's default
// options; BASELINE_VIEWS=app compiles the views the way the app does (src/web/views.ts) instead.
//
//   PORT=3100 tsx bench/baseline-server.ts
import express from 'express';
import { useViews, viewsDirectory } from '../src/web/views.js';
import { ROLES, SERVICE_TYPES, type Role, type ServiceType } from '../src/domain/roles.js';
import type { ServiceListPage, ServiceListQuery, ServiceRow } from '../src/domain/services.js';
import { handleOf, serviceName } from './seed-large.js';
import { prng } from './lib.js';

const port = Number(process.env.PORT ?? 3100);
const random = prng(7);

function ref(id: number) {
  return { id, handle: handleOf(id) };
}

const rows: ServiceRow[] = Array.from({ length: 50 }, (_, i) => {
  const id = (i + 1) * 100;
  const myRoles: Role[] = i % 5 === 0 ? ['admin', 'tech', 'billing'] : [ROLES[i % 3] as Role];
  const other = () => ref(2 + Math.floor(random() * 99_999));
  return {
    id,
    name: serviceName(id, random),
    type: SERVICE_TYPES[i % SERVICE_TYPES.length] as ServiceType,
    admin: myRoles.includes('admin') ? ref(1) : other(),
    tech: myRoles.includes('tech') ? ref(1) : other(),
    billing: myRoles.includes('billing') ? ref(1) : other(),
    myRoles,
    pending: i % 17 === 3,
  };
}).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id));

const result: ServiceListPage = { rows, total: 10_000, page: 1, pageCount: 200, pageSize: 50 };
const query: ServiceListQuery = { q: '', type: undefined, role: undefined, sort: 'name', page: 1 };
const user = { id: 1, handle: handleOf(1) };
const t = (key: string) => key;

const app = express();
app.disable('x-powered-by');
if (process.env.BASELINE_VIEWS === 'app') useViews(app, { cache: true });
else {
  app.set('view engine', 'ejs');
  app.set('views', viewsDirectory);
  app.enable('view cache');
}

app.get('/healthz', (_req, res) => {
  res.type('text/plain').send('ok');
});

app.get('/contacts', (req, res) => {
  const page = typeof req.query.page === 'string' ? Math.max(1, Math.min(200, Number(req.query.page) || 1)) : 1;
  res.render('contacts', {
    title: 'Contacts',
    query: { ...query, page },
    result: { ...result, page },
    types: SERVICE_TYPES,
    roles: ROLES,
    pageUrl: (p: number) => (p > 1 ? `/contacts?page=${p}` : '/contacts'),
    t,
    user,
    csrfToken: () => 'baseline-token',
    currentPath: req.path,
    returnPath: req.originalUrl,
    flash: [],
    language: 'en',
    htmlLang: 'en',
  });
});

app.listen(port, '127.0.0.1');
