import assert from 'node:assert/strict';
import fc from 'fast-check';
import { changeableRoles, isDecision, isRequestState, partiesOf, planRequests, touchesBilling, type RoleChange } from '../../src/domain/consent-rules.js';
import { ROLES, type Role } from '../../src/domain/roles.js';

const sorted = (roles: Set<Role>): Role[] => [...roles].sort();

describe('domain: consent rules (pure)', () => {
  describe('changeableRoles', () => {
    it('lets an administrator change all three roles', () => {
      assert.deepEqual(sorted(changeableRoles(['admin'])), ['admin', 'billing', 'tech']);
    });

    it('lets a technical contact change only the technical role', () => {
      assert.deepEqual(sorted(changeableRoles(['tech'])), ['tech']);
    });

    it('lets a billing contact change only the billing role', () => {
      assert.deepEqual(sorted(changeableRoles(['billing'])), ['billing']);
    });

    it('gives a technical and billing contact the union of both, still not admin', () => {
      assert.deepEqual(sorted(changeableRoles(['tech', 'billing'])), ['billing', 'tech']);
      assert.equal(changeableRoles(['billing', 'tech']).has('admin'), false);
    });

    it('gives an administrator who also holds other roles all three, and no role nothing', () => {
      assert.deepEqual(sorted(changeableRoles(['tech', 'admin'])), ['admin', 'billing', 'tech']);
      assert.equal(changeableRoles([]).size, 0);
    });
  });

  describe('partiesOf', () => {
    it('is the requester and the incoming account when they differ (R≠T → R,T)', () => {
      // Administrator 1 names 3 instead of 2.
      assert.deepEqual(partiesOf(1, 2, 3), [1, 3]);
      // A technical contact (2) replacing itself with 3: requester is the outgoing account.
      assert.deepEqual(partiesOf(2, 2, 3), [2, 3]);
    });

    it('is the requester and the outgoing account when the requester takes the role (R=T → R,F)', () => {
      assert.deepEqual(partiesOf(1, 2, 1), [1, 2]);
    });

    it('refuses a "change" that moves a role to the account already holding it', () => {
      assert.throws(() => partiesOf(1, 2, 2));
    });

    it('always names two distinct parties, one of them the requester (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), (r, f, t) => {
          fc.pre(f !== t);
          const parties = partiesOf(r, f, t);
          assert.equal(parties.length, 2);
          assert.notEqual(parties[0], parties[1]);
          assert.equal(parties[0], r);
          assert.ok(parties.includes(t) || (r === t && parties.includes(f)));
        }),
      );
    });
  });

  describe('planRequests', () => {
    it('groups roles moving between the same pair into one request, in canonical role order', () => {
      const plans = planRequests(1, [
        { role: 'billing', fromId: 2, toId: 3 },
        { role: 'tech', fromId: 2, toId: 3 },
      ]);
      assert.deepEqual(plans, [{ fromId: 2, toId: 3, roles: ['tech', 'billing'], partyIds: [1, 3] }]);
    });

    it('makes separate requests for different pairs', () => {
      const plans = planRequests(1, [
        { role: 'tech', fromId: 2, toId: 3 },
        { role: 'billing', fromId: 2, toId: 4 },
        { role: 'admin', fromId: 1, toId: 3 },
      ]);
      assert.equal(plans.length, 3);
      const byRoles = Object.fromEntries(plans.map((plan) => [plan.roles.join(','), plan]));
      assert.deepEqual(byRoles.tech, { fromId: 2, toId: 3, roles: ['tech'], partyIds: [1, 3] });
      assert.deepEqual(byRoles.billing, { fromId: 2, toId: 4, roles: ['billing'], partyIds: [1, 4] });
      assert.deepEqual(byRoles.admin, { fromId: 1, toId: 3, roles: ['admin'], partyIds: [1, 3] });
    });

    it('keeps the same incoming account from two different outgoing accounts apart', () => {
      const plans = planRequests(1, [
        { role: 'tech', fromId: 2, toId: 4 },
        { role: 'billing', fromId: 3, toId: 4 },
      ]);
      assert.deepEqual(
        plans.map((plan) => [plan.fromId, plan.toId, plan.roles]),
        [
          [2, 4, ['tech']],
          [3, 4, ['billing']],
        ],
      );
    });

    it('skips roles that do not change, and plans nothing for no change', () => {
      const plans = planRequests(1, [
        { role: 'admin', fromId: 1, toId: 1 },
        { role: 'tech', fromId: 2, toId: 2 },
        { role: 'billing', fromId: 2, toId: 5 },
      ]);
      assert.deepEqual(plans, [{ fromId: 2, toId: 5, roles: ['billing'], partyIds: [1, 5] }]);
      assert.deepEqual(planRequests(1, [{ role: 'tech', fromId: 2, toId: 2 }]), []);
      assert.deepEqual(planRequests(1, []), []);
    });

    it('uses the taking-back parties for a role the requester takes for itself', () => {
      assert.deepEqual(planRequests(1, [{ role: 'tech', fromId: 2, toId: 1 }]), [{ fromId: 2, toId: 1, roles: ['tech'], partyIds: [1, 2] }]);
    });

    it('covers every changed role exactly once, one plan per pair (property)', () => {
      const change = fc.record({ fromId: fc.integer({ min: 1, max: 4 }), toId: fc.integer({ min: 1, max: 4 }) });
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 4 }), fc.tuple(change, change, change), (requester, moves) => {
          const changes: RoleChange[] = ROLES.map((role, i) => ({ role, ...(moves[i] as { fromId: number; toId: number }) }));
          const plans = planRequests(requester, changes);
          const planned = plans.flatMap((plan) => plan.roles).sort();
          const changed = changes.filter((c) => c.fromId !== c.toId).map((c) => c.role).sort();
          assert.deepEqual(planned, changed);
          const pairs = plans.map((plan) => `${plan.fromId}->${plan.toId}`);
          assert.equal(new Set(pairs).size, pairs.length);
          for (const plan of plans) {
            assert.deepEqual(plan.partyIds, partiesOf(requester, plan.fromId, plan.toId));
            for (const role of plan.roles) {
              const source = changes.find((c) => c.role === role) as RoleChange;
              assert.deepEqual([source.fromId, source.toId], [plan.fromId, plan.toId]);
            }
          }
        }),
      );
    });
  });

  describe('small predicates', () => {
    it('recognises billing changes, decisions and states', () => {
      assert.equal(touchesBilling(['tech', 'billing']), true);
      assert.equal(touchesBilling(['admin', 'tech']), false);
      assert.equal(isDecision('accept'), true);
      assert.equal(isDecision('refuse'), true);
      assert.equal(isDecision('maybe'), false);
      for (const state of ['pending', 'done', 'refused', 'expired', 'cancelled', 'failed']) assert.equal(isRequestState(state), true);
      assert.equal(isRequestState('validatingByCustomers'), false);
    });
  });
});
