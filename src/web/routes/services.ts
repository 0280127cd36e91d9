import { Router, type Request, type Response } from 'express';
import { changeableRoles } from '../../domain/consent-rules.js';
import { handlePattern } from '../../domain/handles.js';
import type { Domain } from '../../domain/index.js';
import { ROLES, type Role } from '../../domain/roles.js';
import { optionalField, parseForm } from '../forms.js';
import { currentAccount, requireLogin } from '../middleware/auth.js';
import { flash, noStore } from '../middleware/locals.js';
import type { RateLimits } from '../middleware/rate-limits.js';
import { withFormErrors } from '../render-errors.js';

type ContactForm = Partial<Record<Role, string>>;

export function servicesRoutes(domain: Domain, rateLimits: RateLimits): Router {
  const router = Router();
  router.use('/services', requireLogin, noStore);

  /**
   * The edit form, showing the contacts as they are now. After an error it keeps what the user
   * typed; a field left as it was shown (`seen`) shows the contact as it is now, which may have
   * changed meanwhile. The form carries the contacts it shows as `seen_<role>` (see submit).
   */
  async function renderEdit(req: Request, res: Response, typed: ContactForm = {}, seen: ContactForm = {}, errors: Record<string, string> = {}) {
    const service = await domain.services.findForAccount(req.params.id, currentAccount(req).id);
    const editable = changeableRoles(service.myRoles);
    const current = Object.fromEntries(ROLES.map((role) => [role, service[role].handle])) as Record<Role, string>;
    const values = Object.fromEntries(
      ROLES.map((role) => [role, typed[role] === undefined || (seen[role] !== undefined && typed[role] === seen[role]) ? current[role] : typed[role]]),
    );
    res.render('service-edit', {
      title: req.t('edit.title', { name: service.name }),
      service,
      editable: Object.fromEntries(ROLES.map((role) => [role, editable.has(role)])),
      values,
      current,
      errors,
      handlePattern: handlePattern(domain.handleSuffix).source,
    });
  }

  router.get('/services/:id/contacts/edit', (req, res) => renderEdit(req, res));

  router.post('/services/:id/contacts', async (req, res) => {
    const form = parseForm(
      {
        admin: optionalField(100),
        tech: optionalField(100),
        billing: optionalField(100),
        seen_admin: optionalField(100),
        seen_tech: optionalField(100),
        seen_billing: optionalField(100),
      },
      req.body,
    );
    const typed: ContactForm = { admin: form.admin, tech: form.tech, billing: form.billing };
    const seen: ContactForm = { admin: form.seen_admin, tech: form.seen_tech, billing: form.seen_billing };
    await withFormErrors(
      res,
      async () => {
        // Every attempt counts, not only those that create requests: the answers tell which
        // customer IDs exist, and the limit keeps that from being a way to list them.
        await rateLimits.consumeRequestCreation(currentAccount(req).id);
        const created = await domain.requests.submit(currentAccount(req).id, req.params.id, typed, { ip: req.ip ?? null }, seen);
        flash(req, {
          type: 'success',
          key: 'edit.created',
          // The text stays in params for a process of the previous release (a rollback, a deploy
          // under way) that reads this session's flash and knows nothing of times.
          params: { count: created.length, expires: res.locals.formatDate(created[0]?.expiresAt) },
          times: created[0] ? { expires: created[0].expiresAt } : {},
          items: created.map((request) => ({
            key: 'edit.createdItem',
            params: {
              id: request.id,
              roles: request.roles.map((role) => req.t(`roles.${role}`)).join(', '),
              from: request.from.handle,
              to: request.to.handle,
              parties: request.parties.map((p) => p.handle).join(' + '),
            },
          })),
        });
        res.redirect(303, '/contacts');
      },
      (errors) => renderEdit(req, res, typed, seen, errors),
    );
  });

  router.get('/services/:id/owner', async (req, res) => {
    const { service, owner } = await domain.owners.get(req.params.id, currentAccount(req).id);
    res.render('owner', { title: req.t('owner.title', { name: service.name }), service, values: owner, errors: {} });
  });

  router.post('/services/:id/owner', async (req, res) => {
    // Generous: the domain's own limits answer a long value with a message at its field.
    const fields = { street: optionalField(), postalCode: optionalField(), city: optionalField(), country: optionalField(), phone: optionalField(), email: optionalField() };
    const form = parseForm(fields, req.body);
    await withFormErrors(
      res,
      async () => {
        await domain.owners.update(req.params.id, currentAccount(req).id, form, { ip: req.ip ?? null });
        flash(req, { type: 'success', key: 'owner.saved' });
        res.redirect(303, `/services/${req.params.id}/owner`);
      },
      async (errors) => {
        const { service, owner } = await domain.owners.get(req.params.id, currentAccount(req).id);
        res.render('owner', { title: req.t('owner.title', { name: service.name }), service, values: { ...form, name: owner.name }, errors });
      },
    );
  });

  return router;
}
