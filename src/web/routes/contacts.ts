import { Router } from 'express';
import type { Domain } from '../../domain/index.js';
import { SERVICE_TYPES, ROLES } from '../../domain/roles.js';
import { parseListQuery } from '../../domain/services.js';
import { optionalField, parseQuery, querySchema } from '../forms.js';
import { currentAccount, requireLogin } from '../middleware/auth.js';
import { noStore } from '../middleware/locals.js';

const LIST_QUERY = querySchema({ q: optionalField(200), type: optionalField(20), role: optionalField(20), sort: optionalField(10), page: optionalField(10) });

export function contactsRoutes(domain: Domain): Router {
  const router = Router();

  router.get('/', (req, res) => res.redirect(303, req.account ? '/contacts' : '/login'));

  router.get('/contacts', requireLogin, noStore, async (req, res) => {
    const raw = parseQuery(LIST_QUERY, req.query);
    const query = parseListQuery(raw);
    const result = await domain.services.listForAccount(currentAccount(req).id, query);
    res.render('contacts', {
      title: req.t('contacts.title'),
      query,
      result,
      types: SERVICE_TYPES,
      roles: ROLES,
      pageUrl: (page: number) => {
        const params = new URLSearchParams();
        if (query.q) params.set('q', query.q);
        if (query.type) params.set('type', query.type);
        if (query.role) params.set('role', query.role);
        if (query.sort !== 'name') params.set('sort', query.sort);
        if (page > 1) params.set('page', String(page));
        const search = params.toString();
        return '/contacts' + (search ? '?' + search : '');
      },
    });
  });

  return router;
}
