import assert from 'node:assert/strict';
import type { Response } from 'express';
import { NotFoundError, RateLimitedError, ValidationError } from '../../src/domain/errors.js';
import { withFormErrors } from '../../src/web/render-errors.js';

function response(): Response & { statusCode: number } {
  const res = {
    statusCode: 200,
    locals: { t: (key: string) => `text of ${key}` },
    status(code: number) {
      res.statusCode = code;
      return res;
    },
  };
  return res as unknown as Response & { statusCode: number };
}

describe('web: withFormErrors', () => {
  it('re-renders a ValidationError with 422 and the translated field messages', async () => {
    const res = response();
    let rendered: Record<string, string> | undefined;
    await withFormErrors(
      res,
      async () => {
        throw new ValidationError({ tech: { key: 'errors.handle.unknown' } });
      },
      async (errors) => {
        await new Promise((resolve) => setImmediate(resolve));
        rendered = errors;
      },
    );
    assert.equal(res.statusCode, 422);
    assert.deepEqual(rendered, { tech: 'text of errors.handle.unknown' }, 'the asynchronous re-render is waited for');
  });

  it('passes a failing re-render on to its caller (the error handler) instead of leaving it unhandled', async () => {
    // As when the user lost its role on the service between the submission and the re-render.
    await assert.rejects(
      withFormErrors(
        response(),
        async () => {
          throw new ValidationError({ tech: { key: 'errors.handle.unknown' } });
        },
        async () => {
          throw new NotFoundError('errors.service.notFound');
        },
      ),
      NotFoundError,
    );
  });

  it('answers a RateLimitedError with 429, Retry-After and the wait as the form\'s error, and drops the header when the re-render fails', async () => {
    const headers = new Map<string, string>();
    const res = Object.assign(response(), {
      set(name: string, value: string) {
        headers.set(name, value);
        return res;
      },
      removeHeader(name: string) {
        headers.delete(name);
      },
    });
    let rendered: Record<string, string> | undefined;
    await withFormErrors(
      res,
      async () => {
        throw new RateLimitedError(90);
      },
      (errors) => {
        rendered = errors;
      },
    );
    assert.equal(res.statusCode, 429);
    assert.equal(headers.get('Retry-After'), '90');
    assert.deepEqual(rendered, { form: 'text of errors.rateLimited' });

    headers.clear();
    await assert.rejects(
      withFormErrors(
        res,
        async () => {
          throw new RateLimitedError(90);
        },
        async () => {
          throw new NotFoundError('errors.service.notFound');
        },
      ),
      NotFoundError,
    );
    assert.equal(headers.has('Retry-After'), false);
  });

  it('passes any other error of the action on untouched', async () => {
    const res = response();
    await assert.rejects(
      withFormErrors(
        res,
        async () => {
          throw new NotFoundError('errors.service.notFound');
        },
        () => assert.fail('no re-render'),
      ),
      NotFoundError,
    );
    assert.equal(res.statusCode, 200);
  });
});
