import { Router } from 'express';
import { z } from 'zod';
import { isRequestState, REQUEST_STATES } from '../../domain/consent-rules.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../domain/errors.js';
import type { Domain } from '../../domain/index.js';
import { parseRowId } from '../../domain/row-ids.js';
import { confirmPath } from '../../mail/render.js';
import { field, optionalField, parseForm, parseQuery } from '../forms.js';
import { currentAccount, loginUrl, requireLogin } from '../middleware/auth.js';
import { flash, noStore, timeOf } from '../middleware/locals.js';
import type { RateLimits } from '../middleware/rate-limits.js';
import { fieldErrors } from '../render-errors.js';

/**
 * The query of a mail's confirmation link. Unlike other pages' queries, parameters it does not
 * know are dropped rather than refused: mail gateways and link trackers append their own
 * (utm_source=…), and the link must still work.
 */
const CONFIRM_LINK_QUERY = z.object({ token: optionalField(200) });

export function requestsRoutes(domain: Domain, rateLimits: RateLimits): Router {
  const router = Router();

  router.get('/requests', requireLogin, noStore, async (req, res) => {
    const query = parseQuery({ state: optionalField(20), page: optionalField(10) }, req.query);
    const state = isRequestState(query.state) ? query.state : undefined;
    const page = query.page && /^[0-9]{1,6}$/.test(query.page) ? Number(query.page) : 1;
    const result = await domain.requests.listForAccount(currentAccount(req).id, { state, page });
    res.render('requests', { title: req.t('requests.title'), result, state, states: REQUEST_STATES, errors: {} });
  });

  // The state of one request, for the script of My requests that refreshes a pending row after a
  // decision. Same scoping as the detail page: a request that does not concern the user is a 404.
  // `decidedAt` is what views/partials/time.ejs shows (ISO date, text in the reader's zone, and
  // whether the browser shows it in its own zone), or null while pending.
  router.get('/requests/:id/state', requireLogin, noStore, async (req, res) => {
    try {
      const { request } = await domain.requests.getForAccount(req.params.id, currentAccount(req).id);
      res.json({
        state: request.state,
        decidedAt: timeOf(res, request.decidedAt),
        parties: request.parties.map((party) => ({ handle: party.handle, decision: party.decision })),
      });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      res.status(404).json({ error: req.t(error.messageKey) });
    }
  });

  router.get('/requests/:id', requireLogin, noStore, async (req, res) => {
    const view = await domain.requests.getForAccount(req.params.id, currentAccount(req).id);
    res.render('request', { title: req.t('request.title', { id: view.request.id }), ...view, token: '', errors: {} });
  });

  // The link in the mail. A GET never decides: mail scanners follow links.
  router.get('/requests/:id/confirm', noStore, async (req, res) => {
    const query = parseQuery(CONFIRM_LINK_QUERY, req.query);
    if (!req.account) return res.redirect(303, loginUrl(req));
    const token = query.token ?? '';
    const view = await domain.requests.viewForConfirmation(req.params.id, currentAccount(req).id, token);
    if ('wrongAccount' in view) {
      // "Switch account" logs out, then the login leads back to this link (as mailed: without
      // whatever a link tracker added to it).
      const requestId = parseRowId(req.params.id);
      const next = requestId === undefined ? '' : confirmPath(requestId, token);
      res.status(403).render('confirm-wrong-account', { title: req.t('confirm.title'), handles: view.wrongAccount, next });
      return;
    }
    res.render('confirm', { title: req.t('confirm.title'), ...view, token, errors: {} });
  });

  router.post('/requests/:id/confirm', requireLogin, noStore, async (req, res) => {
    const form = parseForm({ token: field(200), decision: field(10) }, req.body);
    const account = currentAccount(req);
    const ip = req.ip ?? 'unknown';
    // Only a possible id becomes a rate-limit key (a NUL byte, say, is no text to PostgreSQL).
    const requestId = parseRowId(req.params.id);
    if (requestId === undefined) throw new NotFoundError('errors.request.notFound');
    // A 256-bit token cannot be guessed, but the page must not be a free oracle either.
    await rateLimits.checkToken(requestId, account.id, ip);
    try {
      const result = await domain.requests.decide(req.params.id, account.id, form, { ip: req.ip ?? null });
      if (result.outcome === 'waiting') flash(req, { type: 'success', key: 'confirm.waiting', params: { handle: result.waitingFor } });
      else if (result.outcome === 'done') flash(req, { type: 'success', key: 'confirm.done' });
      else if (result.outcome === 'refused') flash(req, { type: 'info', key: 'confirm.refused' });
      else flash(req, { type: 'error', key: 'confirm.failed', params: { reason: req.t(`failureReasons.${result.reason}`) } });
      res.redirect(303, `/requests/${result.request.id}`);
    } catch (error) {
      if (error instanceof ForbiddenError && error.messageKey === 'errors.token.wrongAccount') {
        res.status(403).render('confirm-wrong-account', { title: req.t('confirm.title'), handles: [error.params.handle], next: confirmPath(requestId, form.token) });
        return;
      }
      if (!(error instanceof ValidationError)) throw error;
      // Only a code that is no code of this request counts: a used one (a second click after
      // deciding) tells nothing to whoever guesses.
      if (error.fields.token?.key === 'errors.token.invalid') await rateLimits.tokenFailed(requestId, account.id, ip);
      const errors = fieldErrors(res, error);
      const view = await domain.requests.viewForConfirmation(req.params.id, account.id, form.token);
      if ('wrongAccount' in view) throw error;
      res.status(422).render('confirm', { title: req.t('confirm.title'), ...view, token: form.token, errors });
    }
  });

  router.post('/requests/:id/resend', requireLogin, noStore, async (req, res) => {
    parseForm({}, req.body);
    await rateLimits.consumeResend(currentAccount(req).id);
    try {
      const request = await domain.requests.resend(req.params.id, currentAccount(req).id, { ip: req.ip ?? null });
      flash(req, { type: 'success', key: 'requests.resent', params: { email: currentAccount(req).email, id: request.id } });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      flash(req, { type: 'error', key: Object.values(error.fields)[0]?.key ?? 'errors.invalid' });
    }
    res.redirect(303, `/requests/${req.params.id}`);
  });

  router.post('/requests/:id/cancel', requireLogin, noStore, async (req, res) => {
    parseForm({}, req.body);
    try {
      const request = await domain.requests.cancel(req.params.id, currentAccount(req).id, { ip: req.ip ?? null });
      flash(req, { type: 'success', key: 'requests.cancelled', params: { id: request.id } });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      flash(req, { type: 'error', key: Object.values(error.fields)[0]?.key ?? 'errors.invalid' });
    }
    res.redirect(303, `/requests/${req.params.id}`);
  });

  return router;
}
