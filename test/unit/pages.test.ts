import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FIELDS } from '../../src/filters/fields.js';
import { parseFilterQuery } from '../../src/filters/index.js';
import { formFields } from '../../src/http/console.js';
import { readmeSection } from '../../src/http/docs-routes.js';

const accepted = (query: string) => parseFilterQuery(query, { maxListItems: 100 }).ok;

test("the console's form has one input per filter parameter, in the vocabulary's order", () => {
  assert.deepEqual(
    formFields().map((f) => f.name),
    FIELDS.map((f) => f.name),
  );
});

test('every value the form offers, and every example it shows, is one the gateway accepts', () => {
  for (const f of formFields()) {
    assert.ok(accepted(`${f.name}=${encodeURIComponent(f.example)}`), `${f.name}: example ${f.example}`);
    for (const o of f.options ?? []) assert.ok(accepted(`${f.name}=${encodeURIComponent(o.value)}`), `${f.name}=${o.value}`);
    if (f.multiple) assert.ok(accepted(`${f.name}=${f.options!.map((o) => o.value).join(',')}`), `${f.name}: all at once`);
  }
  // Closed sets are selects: the gender codes are offered with their names.
  assert.deepEqual(formFields().find((f) => f.name === 'gender')?.options, [
    { value: '0', label: '0 female' },
    { value: '1', label: '1 male' },
  ]);
  assert.equal(formFields().find((f) => f.name === 'gender')?.multiple, false);
  assert.equal(formFields().find((f) => f.name === 'emotions')?.multiple, true);
});

test('readmeSection: from its heading to the next one outside a code fence, with manual links', () => {
  const readme = [
    '# t',
    '## Operations',
    'See [the manual](docs/development.md#build) and ![x](docs/images/console.png).',
    '```sh',
    '## not a heading',
    '```',
    '### Sub',
    '## Performance',
    'other',
  ].join('\n');
  const section = readmeSection(readme, 'Operations');
  assert.equal(
    section,
    [
      '## Operations',
      'See [the manual](/docs/dev/index.html#build) and ![x](/docs/dev/images/console.png).',
      '```sh',
      '## not a heading',
      '```',
      '### Sub',
    ].join('\n'),
  );
  assert.equal(readmeSection(readme, 'Performance'), '## Performance\nother');
  assert.equal(readmeSection(readme, 'Nope'), undefined);
});
