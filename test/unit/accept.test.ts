import assert from 'node:assert/strict';
import { test } from 'node:test';
import { negotiate } from '../../src/http/accept.js';

// The offer and aliases of GET /docs/spec, the main user of negotiate.
const OFFER = ['application/x-yaml', 'text/html', 'application/json'] as const;
const ALIASES = { 'application/yaml': 'application/x-yaml', 'text/yaml': 'application/x-yaml' };
const pick = (accept: string) => negotiate(accept, OFFER, ALIASES);

test('an exact type is chosen', () => {
  assert.equal(pick('application/x-yaml'), 'application/x-yaml');
  assert.equal(pick('text/html'), 'text/html');
  assert.equal(pick('application/json'), 'application/json');
});

test('types are case-insensitive and surrounding whitespace is ignored', () => {
  assert.equal(pick('  TEXT/HTML  '), 'text/html');
  assert.equal(pick('Application/JSON ; q=1'), 'application/json');
});

test('the highest q-value wins, whatever the order in the header', () => {
  assert.equal(pick('text/html;q=0.5, application/json'), 'application/json');
  assert.equal(pick('application/json;q=0.4, text/html;q=0.9'), 'text/html');
  assert.equal(pick('text/html;q=0.001, application/json;q=0.002'), 'application/json');
  assert.equal(pick('application/x-yaml; q=0.3, application/json; q=0.7'), 'application/json');
});

test('parameters other than q do not disturb matching', () => {
  assert.equal(pick('text/html;charset=utf-8;q=0.8, application/json;q=0.5'), 'text/html');
});

test('ties go to the server order of preference', () => {
  assert.equal(pick('application/json, text/html'), 'text/html');
  assert.equal(pick('application/json;q=0.5, text/html;q=0.5'), 'text/html');
  assert.equal(pick('text/html, application/x-yaml'), 'application/x-yaml');
});

test('the wildcard accepts the first offered type; type/* the first of that type', () => {
  assert.equal(pick('*/*'), 'application/x-yaml');
  assert.equal(pick('text/*'), 'text/html');
  assert.equal(pick('application/*'), 'application/x-yaml');
});

test('the most specific range decides a type, not the highest q', () => {
  // text/html is excluded by its own range although text/* and */* accept it.
  assert.equal(pick('text/html;q=0, text/*, */*'), 'application/x-yaml');
  // */* gives yaml 0.1; text/html, exact, 1.
  assert.equal(pick('*/*;q=0.1, text/html'), 'text/html');
  // The exact range lowers html below what text/* would give it.
  assert.equal(pick('text/*;q=0.9, text/html;q=0.2, application/json;q=0.5'), 'application/json');
  // type/* beats */* for its own type.
  assert.equal(pick('*/*;q=0.2, application/*;q=0.8, text/html;q=0.5'), 'application/x-yaml');
});

test('q=0 means not acceptable', () => {
  assert.equal(pick('text/html;q=0'), undefined);
  assert.equal(pick('*/*;q=0'), undefined);
  assert.equal(pick('*/*;q=0, application/json'), 'application/json');
  assert.equal(pick('application/x-yaml;q=0, */*'), 'text/html');
  assert.equal(pick('text/html;q=0.000'), undefined);
});

test('aliases stand for the offered type, with their q-value', () => {
  assert.equal(pick('application/yaml'), 'application/x-yaml');
  assert.equal(pick('text/yaml'), 'application/x-yaml');
  assert.equal(pick('TEXT/YAML'), 'application/x-yaml');
  assert.equal(pick('application/json;q=0.8, text/yaml;q=0.9'), 'application/x-yaml');
  assert.equal(pick('application/yaml;q=0.1, text/html;q=0.2'), 'text/html');
  assert.equal(pick('application/yaml;q=0'), undefined);
  // Without the alias table the synonym matches nothing.
  assert.equal(negotiate('application/yaml', OFFER), undefined);
});

test('a type nobody offers is not acceptable', () => {
  assert.equal(pick('text/plain'), undefined);
  assert.equal(pick('image/*'), undefined);
  assert.equal(pick('text/plain, image/png;q=0.5'), undefined);
});

test('malformed ranges are ignored; a header of only malformed ranges accepts nothing', () => {
  for (const bad of [
    'garbage',
    'text',
    '/html',
    'text/',
    '*/html',
    'text/html;q=2',
    'text/html;q=abc',
    'text/html;q=',
    'text/html;q=1.0001',
    'te xt/html',
    '',
    ',',
    ';q=1',
  ]) {
    assert.equal(pick(bad), undefined, `Accept: ${JSON.stringify(bad)}`);
  }
  assert.equal(pick('garbage, text/html'), 'text/html');
  assert.equal(pick('text/html;q=7, application/json;q=0.1'), 'application/json');
  assert.equal(pick(',,application/json,,'), 'application/json');
});

test('q-values: up to three decimals, 1 and 1.000 allowed', () => {
  assert.equal(pick('text/html;q=1.000'), 'text/html');
  assert.equal(pick('text/html;q=0.5'), 'text/html');
  assert.equal(pick('text/html;Q=0.5, application/json;q=0.4'), 'text/html');
  assert.equal(pick('text/html;q=0.1234'), undefined);
});
