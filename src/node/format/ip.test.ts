import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalAddress,
  cidrText,
  contains,
  formatAddress,
  netmaskText,
  parseAddress,
  parseCidr,
} from './ip.ts';
import { partitionRange } from './layout.ts';

test('addresses round-trip and print as RFC 5952', () => {
  assert.equal(canonicalAddress('2001:0db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
  assert.equal(canonicalAddress('::1'), '::1');
  assert.equal(canonicalAddress('::'), '::');
  assert.equal(canonicalAddress('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1');
  assert.equal(canonicalAddress('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(canonicalAddress('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2:3:4:5:6');
  assert.equal(canonicalAddress('::ffff:10.0.0.1'), '::ffff:a00:1');
  assert.equal(canonicalAddress('10.0.0.1'), '10.0.0.1');
  assert.equal(parseAddress('1.2.3.4').value, 0x01020304n);
  assert.equal(formatAddress(4, 0xffffffffn), '255.255.255.255');
  assert.throws(() => parseAddress('1.2.3'), /not an IP address/);
});

test('networks, masks and membership', () => {
  assert.equal(cidrText(parseCidr('10.1.2.3/16')), '10.1.0.0/16');
  assert.equal(cidrText(parseCidr('2001:db8::7/64')), '2001:db8::/64');
  assert.equal(parseCidr('127.0.0.1').prefixLength, 32);
  assert.equal(netmaskText(4, 32), '255.255.255.255');
  assert.equal(netmaskText(4, 20), '255.255.240.0');
  assert.equal(netmaskText(6, 64), 'ffff:ffff:ffff:ffff::');
  assert.equal(netmaskText(6, 128), 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff');
  assert.ok(contains(parseCidr('10.0.0.0/8'), 4, parseAddress('10.200.0.1').value));
  assert.ok(!contains(parseCidr('10.0.0.0/8'), 4, parseAddress('11.0.0.1').value));
  assert.ok(!contains(parseCidr('10.0.0.0/8'), 6, 1n));
  assert.throws(() => parseCidr('10.0.0.0/x'), /invalid prefix length/);
  assert.throws(() => parseCidr('10.0.0.0/8/8'), /not a network/);
});

test('partition IPv6 ranges follow the original arithmetic (node.md §2.7)', () => {
  const prefix = parseCidr('2001:db8::1/64');
  const range0 = partitionRange(prefix, 0, 16);
  assert.deepEqual(range0, {
    addr: '2001:db8:0:0:4001::',
    netmask: 'ffff:ffff:ffff:ffff:ffff::',
    network: '2001:db8:0:0:4001::/80',
    prefixlen: 80,
  });
  assert.equal(partitionRange(prefix, 5, 16).addr, '2001:db8:0:0:4006::');
  assert.throws(() => partitionRange(parseCidr('2001:db8::/120'), 0, 16), /too large/);
});
