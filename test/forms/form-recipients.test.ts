import { ConfigError } from '../../src/config';
import { checkFormRecipients } from '../../src/forms';
import { startServer } from '../../src/server';
import { testConfig } from '../support/gateway';

// A contact form's fixed recipients are checked at start-up as a send to them would be: a form
// whose every post would fail (a landline for a tenant of mobiles) is refused before it is served.
describe('contact form recipients', () => {
  const form = {
    tenant: 'demo',
    template: 'Hello',
    allowedOrigins: ['https://www.example.com'],
    captcha: { provider: 'none' },
  };

  function refusal(overrides: Record<string, unknown>): string {
    try {
      checkFormRecipients(testConfig(overrides));
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('expected the form to be refused');
  }

  it('names each recipient its tenant may not send to, and why', () => {
    // A mobile (fine), a landline (demo sends to mobiles by default), not a number, another country.
    const message = refusal({
      forms: { contact: { ...form, recipients: ['0412345678', '0298765432', 'abc', '+64211234567'] } },
    });
    expect(message).toMatch(
      /forms\.contact\.recipients\[1\]: '0298765432' is a fixed_line number; this tenant may send only to mobile, fixed_line_or_mobile numbers/,
    );
    expect(message).toMatch(/forms\.contact\.recipients\[2\]: 'abc' is not a valid phone number/);
    expect(message).toMatch(/forms\.contact\.recipients\[3\]: NZ is not an allowed country for this tenant/);
    expect(message).not.toMatch(/recipients\[0\]/);
  });

  it('accepts the same recipients for a tenant that may send to them', () => {
    const config = testConfig({
      tenants: { demo: { numberTypes: ['mobile', 'fixed_line'], allowedCountries: ['AU', 'NZ'] } },
      forms: { contact: { ...form, recipients: ['0412345678', '0298765432', '+64211234567'] } },
    });
    expect(() => checkFormRecipients(config)).not.toThrow();
  });

  it('keeps the gateway from starting with such a form', async () => {
    const config = testConfig({ forms: { contact: { ...form, recipients: ['0298765432'] } } });
    await expect(startServer(config)).rejects.toThrow(
      /forms\.contact\.recipients\[0\]: '0298765432' is a fixed_line/,
    );
  });
});
