import { isApiError, knownTenant, tenantFilter } from '../../src/http';

const tenants = { alpha: {}, beta: {} };

describe('the ?tenant= check of admin routes', () => {
  it('accepts a configured tenant, and no filter at all when the parameter is absent', () => {
    expect(knownTenant(tenants, 'alpha')).toBe('alpha');
    expect(tenantFilter(tenants, 'beta')).toBe('beta');
    expect(tenantFilter(tenants, undefined)).toBeUndefined();
  });

  it.each([['gamma'], ['toString'], [['alpha']], ['x'.repeat(100)]])(
    'refuses %j with 404 NOT_FOUND naming the parameter (never a prototype key)',
    (value) => {
      let thrown: unknown;
      try {
        tenantFilter(tenants, value);
      } catch (error) {
        thrown = error;
      }
      expect(isApiError(thrown) && thrown.code).toBe('NOT_FOUND');
      expect((thrown as { description: string }).description).toMatch(/^tenant: no tenant '.{0,64}'$/);
    },
  );
});
