// sheetstage: stand-ins for the Apps Script services a project's staging tests may use.
// Loaded into a fresh V8 context before the project's files (services/scripttests.py). Nothing
// here reaches the network: spreadsheets are in-memory copies of DEV3 values, and UrlFetchApp,
// MailApp, GmailApp and DriveApp record their calls for the tests to inspect.
(function (global) {
  'use strict';

  const NOT_AVAILABLE = 'not available in staging tests: ';
  const fixture = {
    workbooks: {}, aliases: {}, active: '', user: '', timeZone: 'Etc/UTC', memoryBytes: 512 * 1048576,
  };
  // what the runner's own side uses, taken before any project code can replace it
  const stringify = JSON.stringify;
  const toText = String;
  const recorded = { mails: [], fetches: [], drive: [], output: [], responses: [] };

  class NotAvailableError extends Error {
    constructor(name) {
      super(NOT_AVAILABLE + name);
      this.name = 'NotAvailableError';
    }
  }

  class AssertionError extends Error {
    constructor(message) {
      super(message);
      this.name = 'AssertionError';
    }
  }

  /** An Apps Script object: a method it lacks fails the test by name instead of being
   * `undefined is not a function`. */
  function standIn(label, target) {
    return new Proxy(target, {
      get(object, property, receiver) {
        if (typeof property === 'symbol' || property in object) {
          return Reflect.get(object, property, receiver);
        }
        if (property === 'then' || property === 'toJSON') {
          return undefined;
        }
        return function notAvailable() {
          throw new NotAvailableError(label + '.' + property);
        };
      },
    });
  }

  function missingService(name) {
    return standIn(name, {});
  }

  function copy(value) {
    return JSON.parse(JSON.stringify(value === undefined ? null : value));
  }

  // time zones ---------------------------------------------------------------------------------

  const formatters = {};

  function formatter(zone) {
    if (!formatters[zone]) {
      formatters[zone] = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
        weekday: 'short',
        timeZoneName: 'short',
      });
    }
    return formatters[zone];
  }

  const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const NativeDate = Date;

  /** Wall-clock fields of an instant in a zone, and the zone's offset then (minutes east). */
  function zoned(time, zone) {
    const parts = {};
    for (const part of formatter(zone).formatToParts(new NativeDate(time))) {
      parts[part.type] = part.value;
    }
    const fields = {
      year: Number(parts.year),
      month: Number(parts.month) - 1,
      day: Number(parts.day),
      hour: Number(parts.hour) % 24,
      minute: Number(parts.minute),
      second: Number(parts.second),
      ms: ((time % 1000) + 1000) % 1000,
      weekday: WEEKDAYS.indexOf(parts.weekday),
      zoneName: parts.timeZoneName,
    };
    const wall = NativeDate.UTC(
      fields.year, fields.month, fields.day, fields.hour, fields.minute, fields.second, fields.ms
    );
    fields.offset = Math.round((wall - time) / 60000);
    return fields;
  }

  /** The instant at which a zone's clock shows these fields. */
  function instant(zone, year, month, day, hour, minute, second, ms) {
    const wall = NativeDate.UTC(year, month, day, hour, minute, second, ms);
    if (Number.isNaN(wall)) {
      return NaN;
    }
    let guess = wall - zoned(wall, zone).offset * 60000;
    guess = wall - zoned(guess, zone).offset * 60000;
    return guess;
  }

  // Apps Script runs in the project's time zone (the manifest's timeZone): Date's local-time
  // fields follow it here too, whatever zone this machine is in.
  function ScriptDate(...args) {
    if (!new.target) {
      return new ScriptDate().toString(); // Date() without new: now, as text
    }
    let time;
    if (args.length >= 2) {
      const [y, m, d = 1, h = 0, mi = 0, s = 0, ms = 0] = args.map(Number);
      const year = y >= 0 && y <= 99 ? 1900 + y : y;
      time = instant(fixture.timeZone, year, m, d, h, mi, s, ms);
    } else if (args.length === 1 && typeof args[0] === 'string') {
      time = ScriptDate.parse(args[0]);
    } else {
      time = args.length ? new NativeDate(args[0]).getTime() : NativeDate.now();
    }
    return Reflect.construct(NativeDate, [time], new.target);
  }
  ScriptDate.prototype = Object.create(NativeDate.prototype);
  Object.defineProperty(ScriptDate.prototype, 'constructor', { value: ScriptDate, writable: true, configurable: true });
  Object.setPrototypeOf(ScriptDate, NativeDate); // Date.now, Date.UTC
  ScriptDate.parse = (text) => (isIsoInstant(String(text)) ? NativeDate.parse(String(text)) : parseLocal(String(text)));

  function isIsoInstant(text) {
    return /^\d{4}-\d\d-\d\d(?:$|T.*(?:Z|[+-]\d\d:?\d\d)$)/.test(text.trim());
  }

  function parseLocal(text) {
    const utc = NativeDate.parse(text + (/[zZ]|GMT|UTC|[+-]\d\d:?\d\d\s*$/.test(text) ? '' : ' UTC'));
    if (Number.isNaN(utc)) {
      return NativeDate.parse(text);
    }
    const f = zoned(utc, 'Etc/UTC');
    return instant(fixture.timeZone, f.year, f.month, f.day, f.hour, f.minute, f.second, f.ms);
  }

  const LOCAL_GETTERS = {
    getFullYear: 'year',
    getMonth: 'month',
    getDate: 'day',
    getDay: 'weekday',
    getHours: 'hour',
    getMinutes: 'minute',
    getSeconds: 'second',
    getMilliseconds: 'ms',
  };
  for (const [method, field] of Object.entries(LOCAL_GETTERS)) {
    ScriptDate.prototype[method] = function () {
      const time = this.getTime();
      return Number.isNaN(time) ? NaN : zoned(time, fixture.timeZone)[field];
    };
  }
  ScriptDate.prototype.getYear = function () {
    return this.getFullYear() - 1900;
  };
  ScriptDate.prototype.getTimezoneOffset = function () {
    return -zoned(this.getTime(), fixture.timeZone).offset;
  };
  const LOCAL_SETTERS = {
    setFullYear: ['year', 'month', 'day'],
    setMonth: ['month', 'day'],
    setDate: ['day'],
    setHours: ['hour', 'minute', 'second', 'ms'],
    setMinutes: ['minute', 'second', 'ms'],
    setSeconds: ['second', 'ms'],
    setMilliseconds: ['ms'],
  };
  for (const [method, fields] of Object.entries(LOCAL_SETTERS)) {
    ScriptDate.prototype[method] = function (...values) {
      const f = zoned(this.getTime(), fixture.timeZone);
      fields.forEach((field, index) => {
        if (index < values.length) {
          f[field] = Number(values[index]);
        }
      });
      return this.setTime(
        instant(fixture.timeZone, f.year, f.month, f.day, f.hour, f.minute, f.second, f.ms)
      );
    };
  }
  for (const method of ['toLocaleString', 'toLocaleDateString', 'toLocaleTimeString']) {
    const native = NativeDate.prototype[method];
    ScriptDate.prototype[method] = function (locales, options) {
      return native.call(this, locales, Object.assign({ timeZone: fixture.timeZone }, options));
    };
  }
  ScriptDate.prototype.toDateString = function () {
    return this.toString().split(' ').slice(0, 4).join(' ');
  };
  ScriptDate.prototype.toTimeString = function () {
    return this.toString().split(' ').slice(4).join(' ');
  };
  ScriptDate.prototype.toString = function () {
    const time = this.getTime();
    if (Number.isNaN(time)) {
      return 'Invalid Date';
    }
    const f = zoned(time, fixture.timeZone);
    const sign = f.offset < 0 ? '-' : '+';
    const offset = Math.abs(f.offset);
    return (
      `${WEEKDAYS[f.weekday]} ${MONTHS[f.month].slice(0, 3)} ${pad(f.day, 2)} ${f.year} ` +
      `${pad(f.hour, 2)}:${pad(f.minute, 2)}:${pad(f.second, 2)} GMT${sign}` +
      `${pad(Math.floor(offset / 60), 2)}${pad(offset % 60, 2)} (${f.zoneName})`
    );
  };

  // dates ----------------------------------------------------------------------------------------

  const MONTHS = [
    'January', 'February', 'March', 'April', 'May', 'June',
    'July', 'August', 'September', 'October', 'November', 'December',
  ];
  const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

  function pad(number, width) {
    return String(number).padStart(width, '0');
  }

  function zoneOffset(minutes, style) {
    const sign = minutes < 0 ? '-' : '+';
    const hours = pad(Math.floor(Math.abs(minutes) / 60), 2);
    const rest = pad(Math.abs(minutes) % 60, 2);
    if (style === 1) {
      return minutes === 0 ? 'Z' : sign + hours;
    }
    if (style === 3) {
      return minutes === 0 ? 'Z' : `${sign}${hours}:${rest}`;
    }
    return sign + hours + rest;
  }

  /** java.text.SimpleDateFormat's letters, as Utilities.formatDate takes them. */
  function formatDate(date, zone, pattern) {
    if (!(date instanceof NativeDate) || Number.isNaN(date.getTime())) {
      throw new Error('Utilities.formatDate needs a valid Date');
    }
    const f = zoned(date.getTime(), String(zone));
    const start = NativeDate.UTC(f.year, 0, 1);
    const dayOfYear = Math.floor((NativeDate.UTC(f.year, f.month, f.day) - start) / 86400000) + 1;
    let out = '';
    let index = 0;
    const text = String(pattern);
    while (index < text.length) {
      const char = text[index];
      if (char === "'") {
        const end = text.indexOf("'", index + 1);
        if (end === index + 1) {
          out += "'";
          index += 2;
          continue;
        }
        out += text.slice(index + 1, end < 0 ? text.length : end);
        index = end < 0 ? text.length : end + 1;
        continue;
      }
      if (!/[A-Za-z]/.test(char)) {
        out += char;
        index++;
        continue;
      }
      let count = 1;
      while (text[index + count] === char) {
        count++;
      }
      index += count;
      const h12 = f.hour % 12 === 0 ? 12 : f.hour % 12;
      switch (char) {
        case 'G': out += f.year > 0 ? 'AD' : 'BC'; break;
        case 'y':
        case 'Y': out += count === 2 ? pad(f.year % 100, 2) : pad(f.year, count); break;
        case 'M':
        case 'L':
          out += count >= 4 ? MONTHS[f.month]
            : count === 3 ? MONTHS[f.month].slice(0, 3) : pad(f.month + 1, count);
          break;
        case 'd': out += pad(f.day, count); break;
        case 'D': out += pad(dayOfYear, count); break;
        case 'E': out += count >= 4 ? DAY_NAMES[f.weekday] : DAY_NAMES[f.weekday].slice(0, 3); break;
        case 'u': out += String(f.weekday === 0 ? 7 : f.weekday); break;
        case 'a': out += f.hour < 12 ? 'AM' : 'PM'; break;
        case 'H': out += pad(f.hour, count); break;
        case 'k': out += pad(f.hour === 0 ? 24 : f.hour, count); break;
        case 'K': out += pad(f.hour % 12, count); break;
        case 'h': out += pad(h12, count); break;
        case 'm': out += pad(f.minute, count); break;
        case 's': out += pad(f.second, count); break;
        case 'S': out += pad(f.ms, count); break;
        case 'z': out += f.zoneName; break;
        case 'Z': out += zoneOffset(f.offset, 2); break;
        case 'X': out += zoneOffset(f.offset, Math.min(count, 3)); break;
        default:
          throw new Error(`Utilities.formatDate: pattern letter '${char}' is not supported`);
      }
    }
    return out;
  }

  /** Utilities.formatString: %s %d %i %f (%.2f) %% as Apps Script's sprintf takes them. */
  function formatString(template, ...args) {
    let next = 0;
    return String(template).replace(/%(-?\d*)(?:\.(\d+))?([sdifx%])/g, (whole, width, precision, kind) => {
      if (kind === '%') {
        return '%';
      }
      const value = args[next++];
      let text;
      if (kind === 's') {
        text = String(value);
      } else if (kind === 'd' || kind === 'i') {
        text = String(Math.trunc(Number(value)));
      } else if (kind === 'x') {
        text = Math.trunc(Number(value)).toString(16);
      } else {
        text = precision === undefined ? String(Number(value)) : Number(value).toFixed(Number(precision));
      }
      const size = Math.abs(Number(width || 0));
      if (width && width.startsWith('-')) {
        return text.padEnd(size);
      }
      return width && width.startsWith('0') && kind !== 's' ? text.padStart(size, '0') : text.padStart(size);
    });
  }

  // bytes, digests, base64 -----------------------------------------------------------------------

  function utf8(text) {
    const bytes = [];
    for (const char of String(text)) {
      const code = char.codePointAt(0);
      if (code < 0x80) {
        bytes.push(code);
      } else if (code < 0x800) {
        bytes.push(0xc0 | (code >> 6), 0x80 | (code & 63));
      } else if (code < 0x10000) {
        bytes.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
      } else {
        bytes.push(
          0xf0 | (code >> 18), 0x80 | ((code >> 12) & 63), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63)
        );
      }
    }
    return bytes;
  }

  function fromUtf8(bytes) {
    let out = '';
    let index = 0;
    const b = bytes.map((x) => x & 255);
    while (index < b.length) {
      const first = b[index];
      let code;
      let size;
      if (first < 0x80) {
        [code, size] = [first, 1];
      } else if (first >= 0xf0) {
        [code, size] = [first & 7, 4];
      } else if (first >= 0xe0) {
        [code, size] = [first & 15, 3];
      } else {
        [code, size] = [first & 31, 2];
      }
      for (let k = 1; k < size; k++) {
        code = (code << 6) | (b[index + k] & 63);
      }
      out += String.fromCodePoint(code);
      index += size;
    }
    return out;
  }

  function asBytes(value) {
    if (Array.isArray(value)) {
      return value.map((x) => x & 255);
    }
    if (value && typeof value.getBytes === 'function') {
      return value.getBytes().map((x) => x & 255);
    }
    return utf8(value);
  }

  function signed(bytes) {
    return bytes.map((x) => (x > 127 ? x - 256 : x));
  }

  function words(bytes, bigEndian) {
    const out = [];
    for (let i = 0; i < bytes.length; i += 4) {
      out.push(
        bigEndian
          ? (bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]
          : bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24)
      );
    }
    return out;
  }

  function padded(bytes, bigEndian) {
    const message = bytes.slice();
    const bits = bytes.length * 8;
    message.push(0x80);
    while (message.length % 64 !== 56) {
      message.push(0);
    }
    const length = [];
    for (let i = 0; i < 8; i++) {
      length.push(Math.floor(bits / 2 ** (8 * i)) & 255);
    }
    return message.concat(bigEndian ? length.reverse() : length);
  }

  function output(state, bigEndian) {
    const out = [];
    for (const word of state) {
      for (let i = 0; i < 4; i++) {
        out.push(bigEndian ? (word >>> (24 - 8 * i)) & 255 : (word >>> (8 * i)) & 255);
      }
    }
    return out;
  }

  const rotl = (x, n) => (x << n) | (x >>> (32 - n));
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));

  const SHA256_K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ];

  function sha256(bytes) {
    const h = [
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ];
    const m = words(padded(bytes, true), true);
    for (let block = 0; block < m.length; block += 16) {
      const w = m.slice(block, block + 16);
      for (let t = 16; t < 64; t++) {
        const s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >>> 3);
        const s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
      }
      let [a, b, c, d, e, f, g, k] = h;
      for (let t = 0; t < 64; t++) {
        const t1 = (k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + SHA256_K[t] + w[t]) | 0;
        const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        [k, g, f, e, d, c, b, a] = [g, f, e, (d + t1) | 0, c, b, a, (t1 + t2) | 0];
      }
      [a, b, c, d, e, f, g, k].forEach((value, i) => {
        h[i] = (h[i] + value) | 0;
      });
    }
    return output(h, true);
  }

  function sha1(bytes) {
    const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
    const m = words(padded(bytes, true), true);
    for (let block = 0; block < m.length; block += 16) {
      const w = m.slice(block, block + 16);
      for (let t = 16; t < 80; t++) {
        w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
      }
      let [a, b, c, d, e] = h;
      for (let t = 0; t < 80; t++) {
        const [f, k] =
          t < 20 ? [(b & c) | (~b & d), 0x5a827999]
            : t < 40 ? [b ^ c ^ d, 0x6ed9eba1]
              : t < 60 ? [(b & c) | (b & d) | (c & d), 0x8f1bbcdc] : [b ^ c ^ d, 0xca62c1d6];
        const temp = (rotl(a, 5) + f + e + k + w[t]) | 0;
        [e, d, c, b, a] = [d, c, rotl(b, 30), a, temp];
      }
      [a, b, c, d, e].forEach((value, i) => {
        h[i] = (h[i] + value) | 0;
      });
    }
    return output(h, true);
  }

  const MD5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
  const MD5_K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);

  function md5(bytes) {
    const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    const m = words(padded(bytes, false), false);
    for (let block = 0; block < m.length; block += 16) {
      let [a, b, c, d] = h;
      for (let i = 0; i < 64; i++) {
        let f;
        let g;
        if (i < 16) {
          [f, g] = [(b & c) | (~b & d), i];
        } else if (i < 32) {
          [f, g] = [(d & b) | (~d & c), (5 * i + 1) % 16];
        } else if (i < 48) {
          [f, g] = [b ^ c ^ d, (3 * i + 5) % 16];
        } else {
          [f, g] = [c ^ (b | ~d), (7 * i) % 16];
        }
        const shift = MD5_S[(i >> 4) * 4 + (i % 4)];
        const sum = (a + f + MD5_K[i] + m[block + g]) | 0;
        [a, d, c] = [d, c, b];
        b = (b + rotl(sum, shift)) | 0;
      }
      [a, b, c, d].forEach((value, i) => {
        h[i] = (h[i] + value) | 0;
      });
    }
    return output(h, false);
  }

  const DIGESTS = { MD5: md5, SHA_1: sha1, SHA_256: sha256 };

  function digestFunction(algorithm) {
    const digest = DIGESTS[algorithm];
    if (!digest) {
      throw new NotAvailableError(`Utilities.DigestAlgorithm.${algorithm}`);
    }
    return digest;
  }

  function hmac(digest, value, key) {
    let keyBytes = asBytes(key);
    if (keyBytes.length > 64) {
      keyBytes = digest(keyBytes);
    }
    keyBytes = keyBytes.concat(new Array(64 - keyBytes.length).fill(0));
    const inner = digest(keyBytes.map((x) => x ^ 0x36).concat(asBytes(value)));
    return digest(keyBytes.map((x) => x ^ 0x5c).concat(inner));
  }

  const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

  function base64Encode(bytes, webSafe) {
    let out = '';
    for (let i = 0; i < bytes.length; i += 3) {
      const [a, b = 0, c = 0] = bytes.slice(i, i + 3);
      const n = (a << 16) | (b << 8) | c;
      out += BASE64[(n >> 18) & 63] + BASE64[(n >> 12) & 63];
      out += i + 1 < bytes.length ? BASE64[(n >> 6) & 63] : '=';
      out += i + 2 < bytes.length ? BASE64[n & 63] : '=';
    }
    return webSafe ? out.replace(/\+/g, '-').replace(/\//g, '_') : out;
  }

  function base64Decode(text) {
    const clean = String(text).replace(/-/g, '+').replace(/_/g, '/').replace(/[\s=]/g, '');
    const bytes = [];
    let buffer = 0;
    let bits = 0;
    for (const char of clean) {
      const value = BASE64.indexOf(char);
      if (value < 0) {
        throw new Error('Could not decode string.');
      }
      buffer = (buffer << 6) | value;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        bytes.push((buffer >> bits) & 255);
      }
    }
    return signed(bytes);
  }

  function newBlob(data, contentType, name) {
    let bytes = asBytes(data === undefined ? '' : data);
    let type = contentType || (Array.isArray(data) ? 'application/octet-stream' : 'text/plain');
    let blobName = name || null;
    const blob = standIn('Blob', {
      getBytes: () => signed(bytes),
      getDataAsString: () => fromUtf8(bytes),
      getContentType: () => type,
      setContentType: (value) => {
        type = value;
        return blob;
      },
      getName: () => blobName,
      setName: (value) => {
        blobName = value;
        return blob;
      },
      setDataFromString: (value) => {
        bytes = utf8(value);
        return blob;
      },
      copyBlob: () => newBlob(signed(bytes), type, blobName),
      getBlob: () => blob,
      isGoogleType: () => false,
    });
    return blob;
  }

  // Logger and console ----------------------------------------------------------------------------

  function show(value) {
    if (typeof value === 'string') {
      return value;
    }
    if (value instanceof NativeDate) {
      return value.toString();
    }
    if (value instanceof Error) {
      return `${value.name}: ${value.message}`;
    }
    try {
      return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
    } catch (error) {
      return String(value);
    }
  }

  function write(level, text) {
    recorded.output.push({ level, text: String(text) });
  }

  const Logger = standIn('Logger', {
    log(data, ...values) {
      let text = show(data);
      if (values.length) {
        let next = 0;
        text = text.replace(/%s/g, () => show(values[next++]));
      }
      write('log', text);
      return Logger;
    },
    getLog: () => recorded.output.filter((o) => o.level === 'log').map((o) => o.text).join('\n'),
    clear: () => {
      recorded.output = recorded.output.filter((o) => o.level !== 'log');
    },
  });

  const timers = {};
  const consoleStandIn = standIn('console', {
    log: (...args) => write('info', args.map(show).join(' ')),
    info: (...args) => write('info', args.map(show).join(' ')),
    warn: (...args) => write('warn', args.map(show).join(' ')),
    error: (...args) => write('error', args.map(show).join(' ')),
    debug: (...args) => write('debug', args.map(show).join(' ')),
    time: (label = 'default') => {
      timers[label] = NativeDate.now();
    },
    timeEnd: (label = 'default') => {
      write('info', `${label}: ${NativeDate.now() - (timers[label] || NativeDate.now())}ms`);
    },
  });

  // PropertiesService and CacheService -------------------------------------------------------------

  function properties(store) {
    const self = standIn('Properties', {
      getProperty: (key) => (Object.prototype.hasOwnProperty.call(store, key) ? store[key] : null),
      setProperty: (key, value) => {
        store[key] = String(value);
        return self;
      },
      getProperties: () => Object.assign({}, store),
      setProperties: (values, deleteAllOthers) => {
        if (deleteAllOthers) {
          Object.keys(store).forEach((key) => delete store[key]);
        }
        Object.entries(values).forEach(([key, value]) => {
          store[key] = String(value);
        });
        return self;
      },
      getKeys: () => Object.keys(store),
      deleteProperty: (key) => {
        delete store[key];
        return self;
      },
      deleteAllProperties: () => {
        Object.keys(store).forEach((key) => delete store[key]);
        return self;
      },
    });
    return self;
  }

  const propertyStores = { script: {}, user: {}, document: {} };
  const PropertiesService = standIn('PropertiesService', {
    getScriptProperties: () => properties(propertyStores.script),
    getUserProperties: () => properties(propertyStores.user),
    getDocumentProperties: () => properties(propertyStores.document),
  });

  function cache(store) {
    return standIn('Cache', {
      get: (key) => (Object.prototype.hasOwnProperty.call(store, key) ? store[key] : null),
      getAll: (keys) => {
        const found = {};
        keys.forEach((key) => {
          if (Object.prototype.hasOwnProperty.call(store, key)) {
            found[key] = store[key];
          }
        });
        return found;
      },
      put: (key, value) => {
        store[key] = String(value);
      },
      putAll: (values) => {
        Object.entries(values).forEach(([key, value]) => {
          store[key] = String(value);
        });
      },
      remove: (key) => {
        delete store[key];
      },
      removeAll: (keys) => keys.forEach((key) => delete store[key]),
    });
  }

  const cacheStores = { script: {}, user: {}, document: {} };
  const CacheService = standIn('CacheService', {
    getScriptCache: () => cache(cacheStores.script),
    getUserCache: () => cache(cacheStores.user),
    getDocumentCache: () => cache(cacheStores.document),
  });

  // Session and Utilities -------------------------------------------------------------------------

  function user(email) {
    return standIn('User', { getEmail: () => email, toString: () => email });
  }

  const Session = standIn('Session', {
    getActiveUser: () => user(fixture.user),
    getEffectiveUser: () => user(fixture.user),
    getScriptTimeZone: () => fixture.timeZone,
    getActiveUserLocale: () => 'en',
    getTemporaryActiveUserKey: () => 'staging-tests-user-key',
  });

  let uuids = 0;
  const Utilities = standIn('Utilities', {
    DigestAlgorithm: { MD5: 'MD5', SHA_1: 'SHA_1', SHA_256: 'SHA_256', SHA_384: 'SHA_384', SHA_512: 'SHA_512', MD2: 'MD2' },
    MacAlgorithm: { HMAC_MD5: 'MD5', HMAC_SHA_1: 'SHA_1', HMAC_SHA_256: 'SHA_256', HMAC_SHA_384: 'SHA_384', HMAC_SHA_512: 'SHA_512' },
    Charset: { UTF_8: 'UTF_8', US_ASCII: 'US_ASCII' },
    formatDate,
    formatString,
    sleep: () => undefined,
    getUuid: () => `00000000-0000-4000-8000-${pad(++uuids, 12)}`,
    computeDigest: (algorithm, value) => signed(digestFunction(algorithm)(asBytes(value))),
    computeHmacSha256Signature: (value, key) => signed(hmac(sha256, value, key)),
    computeHmacSignature: (algorithm, value, key) =>
      signed(hmac(digestFunction(algorithm), value, key)),
    base64Encode: (data) => base64Encode(asBytes(data), false),
    base64EncodeWebSafe: (data) => base64Encode(asBytes(data), true),
    base64Decode: (text) => base64Decode(text),
    base64DecodeWebSafe: (text) => base64Decode(text),
    newBlob,
    jsonParse: (text) => JSON.parse(text),
    jsonStringify: (value) => JSON.stringify(value),
  });

  // recorders: UrlFetchApp, MailApp, GmailApp, DriveApp -----------------------------------------------

  function response(url, canned) {
    const code = canned.code === undefined ? 200 : canned.code;
    const body = canned.body === undefined ? '' : typeof canned.body === 'string' ? canned.body : JSON.stringify(canned.body);
    const headers = Object.assign({}, canned.headers || {});
    return standIn('HTTPResponse', {
      getResponseCode: () => code,
      getContentText: () => body,
      getContent: () => signed(utf8(body)),
      getBlob: () => newBlob(body, headers['Content-Type'] || 'text/plain'),
      getHeaders: () => headers,
      getAllHeaders: () => headers,
    });
  }

  function request(url, params) {
    const options = params || {};
    return {
      url: String(url),
      method: String(options.method || 'get').toUpperCase(),
      headers: copy(options.headers || {}),
      contentType: options.contentType || null,
      payload: options.payload === undefined ? null : typeof options.payload === 'string' ? options.payload : copy(options.payload),
      muteHttpExceptions: Boolean(options.muteHttpExceptions),
    };
  }

  function fetchOne(url, params) {
    const call = request(url, params);
    recorded.fetches.push(call);
    const match = recorded.responses.find((r) =>
      r.pattern instanceof RegExp ? r.pattern.test(call.url) : call.url.startsWith(r.pattern)
    );
    const answer = response(call.url, match ? match.response : {});
    if (answer.getResponseCode() >= 400 && !call.muteHttpExceptions) {
      throw new Error(
        `Request failed for ${call.url} returned code ${answer.getResponseCode()}. ` +
          `Truncated server response: ${answer.getContentText().slice(0, 100)}`
      );
    }
    return answer;
  }

  const UrlFetchApp = standIn('UrlFetchApp', {
    fetch: fetchOne,
    fetchAll: (requests) =>
      requests.map((r) => (typeof r === 'string' ? fetchOne(r) : fetchOne(r.url, r))),
    getRequest: (url, params) => request(url, params),
  });

  function addresses(value) {
    if (!value) {
      return [];
    }
    return String(value).split(',').map((a) => a.trim()).filter(Boolean);
  }

  function mail(service, draft, args) {
    let message;
    if (args.length === 1 && typeof args[0] === 'object') {
      message = Object.assign({}, args[0]);
    } else {
      const [to, subject, body, options] = args;
      message = Object.assign({}, options || {}, { to, subject, body });
    }
    const entry = {
      service,
      draft,
      to: addresses(message.to || message.recipient),
      cc: addresses(message.cc),
      bcc: addresses(message.bcc),
      replyTo: message.replyTo || null,
      subject: String(message.subject === undefined ? '' : message.subject),
      body: String(message.body === undefined ? '' : message.body),
      htmlBody: message.htmlBody === undefined ? null : String(message.htmlBody),
      name: message.name || null,
    };
    entry.recipients = [...entry.to, ...entry.cc, ...entry.bcc];
    recorded.mails.push(entry);
    return entry;
  }

  const MailApp = standIn('MailApp', {
    sendEmail: (...args) => {
      mail('MailApp', false, args);
    },
    getRemainingDailyQuota: () => 100,
  });

  const GmailApp = standIn('GmailApp', {
    sendEmail: (...args) => {
      mail('GmailApp', false, args);
      return GmailApp;
    },
    createDraft: (...args) => {
      const entry = mail('GmailApp', true, args);
      return standIn('GmailDraft', { getId: () => `draft-${recorded.mails.length}`, getMessage: () => entry });
    },
    getAliases: () => [],
  });

  const ENUM = (label, names) => standIn(label, Object.fromEntries(names.map((n) => [n, n])));
  let driveItems = 0;

  /** A Drive file or folder that records every call made on it. */
  function driveItem(kind, name) {
    const id = `staging-drive-${kind.toLowerCase()}-${++driveItems}`;
    let itemName = name === undefined ? `Untitled ${kind.toLowerCase()}` : String(name);
    const item = new Proxy({}, {
      get(_, method) {
        if (typeof method === 'symbol' || method === 'then' || method === 'toJSON') {
          return undefined;
        }
        return (...args) => {
          recorded.drive.push({ method: `${kind}.${method}`, id, args: copy(args) });
          if (method === 'getId') return id;
          if (method === 'getName') return itemName;
          if (method === 'setName') itemName = String(args[0]);
          if (method === 'getUrl') return `https://drive.google.com/${kind === 'Folder' ? 'drive/folders' : 'file/d'}/${id}`;
          if (/^get\w*s$|^search/.test(method)) return emptyIterator();
          if (method === 'createFile') return driveItem('File', args[0] && args[0].getName ? args[0].getName() : args[0]);
          if (method === 'createFolder') return driveItem('Folder', args[0]);
          if (method === 'makeCopy') return driveItem(kind, args[0]);
          if (method === 'getBlob' || method === 'getAs') return newBlob('', 'application/octet-stream', itemName);
          return item;
        };
      },
    });
    return item;
  }

  function emptyIterator() {
    return standIn('Iterator', {
      hasNext: () => false,
      next: () => {
        throw new Error('Cannot retrieve the next object: iterator has reached the end.');
      },
      getContinuationToken: () => null,
    });
  }

  const driveRoot = driveItem('Folder', 'My Drive');
  const DriveApp = new Proxy({
    Access: ENUM('DriveApp.Access', ['ANYONE', 'ANYONE_WITH_LINK', 'DOMAIN', 'DOMAIN_WITH_LINK', 'PRIVATE']),
    Permission: ENUM('DriveApp.Permission', ['VIEW', 'EDIT', 'COMMENT', 'OWNER', 'ORGANIZER', 'FILE_ORGANIZER', 'NONE']),
  }, {
    get(object, method) {
      if (typeof method === 'symbol' || method in object) {
        return object[method];
      }
      if (method === 'then' || method === 'toJSON') {
        return undefined;
      }
      return (...args) => {
        if (method === 'getRootFolder') {
          recorded.drive.push({ method: `DriveApp.${method}`, id: null, args: copy(args) });
          return driveRoot;
        }
        if (method === 'getFileById' || method === 'getFolderById') {
          recorded.drive.push({ method: `DriveApp.${method}`, id: String(args[0]), args: copy(args) });
          return driveItem(method === 'getFileById' ? 'File' : 'Folder');
        }
        return driveRoot[method](...args);
      };
    },
  });

  const MimeType = standIn('MimeType', {
    GOOGLE_SHEETS: 'application/vnd.google-apps.spreadsheet',
    GOOGLE_DOCS: 'application/vnd.google-apps.document',
    GOOGLE_SLIDES: 'application/vnd.google-apps.presentation',
    GOOGLE_FORMS: 'application/vnd.google-apps.form',
    FOLDER: 'application/vnd.google-apps.folder',
    PDF: 'application/pdf',
    CSV: 'text/csv',
    PLAIN_TEXT: 'text/plain',
    HTML: 'text/html',
    JAVASCRIPT: 'application/javascript',
    JSON: 'application/json',
    PNG: 'image/png',
    JPEG: 'image/jpeg',
    MICROSOFT_EXCEL: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    ZIP: 'application/zip',
  });

  // SpreadsheetApp over in-memory DEV3 values ---------------------------------------------------

  function columnNumber(letters) {
    let n = 0;
    for (const char of letters.toUpperCase()) {
      n = n * 26 + (char.charCodeAt(0) - 64);
    }
    return n;
  }

  function columnLetters(n) {
    let out = '';
    while (n > 0) {
      const rest = (n - 1) % 26;
      out = String.fromCharCode(65 + rest) + out;
      n = Math.floor((n - 1) / 26);
    }
    return out;
  }

  function blank(value) {
    return value === '' || value === null || value === undefined;
  }

  function cellValue(value) {
    if (value instanceof NativeDate) {
      return new ScriptDate(value.getTime());
    }
    return blank(value) ? '' : value;
  }

  function tabData(tab) {
    const grid = (tab.values || []).map((row) =>
      row.map((value) => (value && typeof value === 'object' && '$date' in value ? new ScriptDate(value.$date) : value))
    );
    return {
      name: tab.name,
      sheetId: tab.sheetId,
      grid,
      maxRows: Math.max(tab.maxRows || 0, grid.length, 1),
      maxColumns: Math.max(tab.maxColumns || 0, ...grid.map((r) => r.length), 1),
      notes: {},
      backgrounds: {},
      frozenRows: 0,
    };
  }

  function lastRow(tab) {
    for (let r = tab.grid.length - 1; r >= 0; r--) {
      if ((tab.grid[r] || []).some((v) => !blank(v))) {
        return r + 1;
      }
    }
    return 0;
  }

  function lastColumn(tab) {
    let last = 0;
    for (const row of tab.grid) {
      for (let c = (row || []).length - 1; c >= last; c--) {
        if (!blank(row[c])) {
          last = c + 1;
          break;
        }
      }
    }
    return last;
  }

  function setCell(tab, row, column, value) {
    while (tab.grid.length < row) {
      tab.grid.push([]);
    }
    const cells = tab.grid[row - 1] || (tab.grid[row - 1] = []);
    while (cells.length < column) {
      cells.push('');
    }
    cells[column - 1] = blank(value) ? '' : value instanceof NativeDate ? new ScriptDate(value.getTime()) : value;
    tab.maxRows = Math.max(tab.maxRows, row);
    tab.maxColumns = Math.max(tab.maxColumns, column);
  }

  function checkWhole(value, what) {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new Error(`Exception: The parameters (${typeof value}) don't match the method signature for ${what}.`);
    }
  }

  const A1 = /^([A-Za-z]*)(\d*)(?::([A-Za-z]*)(\d*))?$/;

  function parseA1(tab, text) {
    const match = A1.exec(String(text).trim());
    if (!match || (!match[1] && !match[2])) {
      throw new Error(`Exception: Range not found: ${text}`);
    }
    const [, c1, r1, c2, r2] = match;
    const twoPart = match[3] !== undefined || match[4] !== undefined;
    const firstColumn = c1 ? columnNumber(c1) : 1;
    const firstRow = r1 ? Number(r1) : 1;
    let lastColumnNumber = c1 ? firstColumn : tab.maxColumns;
    let lastRowNumber = r1 ? firstRow : tab.maxRows;
    if (twoPart) {
      lastColumnNumber = c2 ? columnNumber(c2) : tab.maxColumns;
      lastRowNumber = r2 ? Number(r2) : tab.maxRows;
    }
    if (firstRow < 1 || firstColumn < 1) {
      throw new Error(`Exception: Range not found: ${text}`);
    }
    return [
      Math.min(firstRow, lastRowNumber),
      Math.min(firstColumn, lastColumnNumber),
      Math.abs(lastRowNumber - firstRow) + 1,
      Math.abs(lastColumnNumber - firstColumn) + 1,
    ];
  }

  function splitSheetName(text) {
    const match = /^(?:'((?:[^']|'')+)'|([^!]+))!(.*)$/.exec(String(text));
    if (!match) {
      return [null, String(text)];
    }
    return [match[1] !== undefined ? match[1].replace(/''/g, "'") : match[2], match[3]];
  }

  function makeRange(sheet, tab, row, column, rows, columns) {
    if (row < 1 || column < 1) {
      throw new Error('Exception: The starting row or column of the range is too small.');
    }
    if (rows < 1 || columns < 1) {
      throw new Error('Exception: The number of rows and columns in the range must be at least 1.');
    }
    const cells = (fn) => {
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < columns; c++) {
          fn(row + r, column + c, r, c);
        }
      }
    };
    const matrix = (fn) =>
      Array.from({ length: rows }, (_, r) => Array.from({ length: columns }, (__, c) => fn(row + r, column + c)));
    const read = (r, c) => cellValue((tab.grid[r - 1] || [])[c - 1]);
    const key = (r, c) => `${r},${c}`;
    const range = standIn('Range', {
      getSheet: () => sheet,
      getRow: () => row,
      getColumn: () => column,
      getLastRow: () => row + rows - 1,
      getLastColumn: () => column + columns - 1,
      getNumRows: () => rows,
      getNumColumns: () => columns,
      getA1Notation: () => {
        const start = columnLetters(column) + row;
        const end = columnLetters(column + columns - 1) + (row + rows - 1);
        return rows === 1 && columns === 1 ? start : `${start}:${end}`;
      },
      getValues: () => matrix(read),
      getValue: () => read(row, column),
      getDisplayValues: () => matrix((r, c) => show(read(r, c))),
      getDisplayValue: () => show(read(row, column)),
      setValues: (values) => {
        if (!Array.isArray(values) || values.length !== rows) {
          throw new Error(
            `Exception: The number of rows in the data does not match the number of rows in the range. The data has ${Array.isArray(values) ? values.length : 0} but the range has ${rows}.`
          );
        }
        values.forEach((line) => {
          if (!Array.isArray(line) || line.length !== columns) {
            throw new Error(
              `Exception: The number of columns in the data does not match the number of columns in the range. The data has ${Array.isArray(line) ? line.length : 0} but the range has ${columns}.`
            );
          }
        });
        cells((r, c, i, j) => setCell(tab, r, c, values[i][j]));
        return range;
      },
      setValue: (value) => {
        cells((r, c) => setCell(tab, r, c, value));
        return range;
      },
      clear: () => {
        cells((r, c) => {
          if ((tab.grid[r - 1] || [])[c - 1] !== undefined) setCell(tab, r, c, '');
          delete tab.notes[key(r, c)];
          delete tab.backgrounds[key(r, c)];
        });
        return range;
      },
      clearContent: () => {
        cells((r, c) => {
          if ((tab.grid[r - 1] || [])[c - 1] !== undefined) setCell(tab, r, c, '');
        });
        return range;
      },
      offset: (rowOffset, columnOffset, numRows, numColumns) =>
        makeRange(sheet, tab, row + rowOffset, column + columnOffset, numRows || rows, numColumns || columns),
      getCell: (r, c) => makeRange(sheet, tab, row + r - 1, column + c - 1, 1, 1),
      setBackground: (color) => {
        cells((r, c) => {
          tab.backgrounds[key(r, c)] = color || '#ffffff';
        });
        return range;
      },
      getBackground: () => tab.backgrounds[key(row, column)] || '#ffffff',
      getBackgrounds: () => matrix((r, c) => tab.backgrounds[key(r, c)] || '#ffffff'),
      setNote: (note) => {
        cells((r, c) => {
          tab.notes[key(r, c)] = note === null ? '' : String(note);
        });
        return range;
      },
      getNote: () => tab.notes[key(row, column)] || '',
      setFontWeight: () => range,
      setFontColor: () => range,
      setNumberFormat: () => range,
      activate: () => range,
    });
    return range;
  }

  function makeSheet(book, tab) {
    const sheet = standIn('Sheet', {
      getName: () => tab.name,
      setName: (name) => {
        tab.name = String(name);
        return sheet;
      },
      getSheetId: () => tab.sheetId,
      getIndex: () => book.data.tabs.indexOf(tab) + 1,
      getParent: () => book.spreadsheet,
      getRange: (first, column, numRows, numColumns) => {
        if (typeof first === 'string') {
          return makeRange(sheet, tab, ...parseA1(tab, splitSheetName(first)[1]));
        }
        checkWhole(first, 'Sheet.getRange');
        checkWhole(column, 'Sheet.getRange');
        return makeRange(sheet, tab, first, column, numRows === undefined ? 1 : numRows, numColumns === undefined ? 1 : numColumns);
      },
      getDataRange: () => makeRange(sheet, tab, 1, 1, Math.max(lastRow(tab), 1), Math.max(lastColumn(tab), 1)),
      getLastRow: () => lastRow(tab),
      getLastColumn: () => lastColumn(tab),
      getMaxRows: () => tab.maxRows,
      getMaxColumns: () => tab.maxColumns,
      getSheetValues: (row, column, numRows, numColumns) =>
        makeRange(
          sheet, tab, row, column,
          numRows === -1 ? lastRow(tab) - row + 1 : numRows,
          numColumns === -1 ? lastColumn(tab) - column + 1 : numColumns
        ).getValues(),
      appendRow: (values) => {
        const row = lastRow(tab) + 1;
        values.forEach((value, index) => setCell(tab, row, index + 1, value));
        return sheet;
      },
      clear: () => {
        tab.grid = [];
        tab.notes = {};
        tab.backgrounds = {};
        return sheet;
      },
      clearContents: () => {
        tab.grid = [];
        return sheet;
      },
      deleteRow: (row) => {
        tab.grid.splice(row - 1, 1);
        tab.maxRows = Math.max(tab.maxRows - 1, 1);
        return sheet;
      },
      deleteRows: (row, count) => {
        tab.grid.splice(row - 1, count);
        tab.maxRows = Math.max(tab.maxRows - count, 1);
        return sheet;
      },
      insertRowBefore: (row) => {
        tab.grid.splice(row - 1, 0, []);
        tab.maxRows++;
        return sheet;
      },
      insertRowAfter: (row) => {
        tab.grid.splice(row, 0, []);
        tab.maxRows++;
        return sheet;
      },
      getFrozenRows: () => tab.frozenRows,
      setFrozenRows: (rows) => {
        tab.frozenRows = rows;
      },
      activate: () => sheet,
    });
    return sheet;
  }

  const books = {};

  function openBook(id) {
    const key = fixture.aliases[id];
    if (!key) {
      return null;
    }
    if (!fixture.workbooks[key]) {
      throw new NotAvailableError(
        `SpreadsheetApp.openById('${id}'): a registered spreadsheet, but its id is not written in the project's code, so its DEV3 values were not read`
      );
    }
    if (!books[key]) {
      const source = fixture.workbooks[key];
      books[key] = { data: { name: source.name, tabs: source.tabs.map(tabData), timeZone: source.timeZone } };
    }
    return books[key];
  }

  function makeSpreadsheet(id) {
    const book = openBook(id);
    if (!book) {
      throw new NotAvailableError(
        `SpreadsheetApp.openById('${id}'): not a spreadsheet of the registry (tests open DEV3 copies of registered spreadsheets only)`
      );
    }
    const sheets = new Map();
    const sheetFor = (tab) => {
      if (!sheets.has(tab)) {
        sheets.set(tab, makeSheet(book, tab));
      }
      return sheets.get(tab);
    };
    const spreadsheet = standIn('Spreadsheet', {
      getId: () => id,
      getName: () => book.data.name,
      getUrl: () => `https://docs.google.com/spreadsheets/d/${id}/edit`,
      getSpreadsheetTimeZone: () => book.data.timeZone,
      getSheets: () => book.data.tabs.map(sheetFor),
      getNumSheets: () => book.data.tabs.length,
      getSheetByName: (name) => {
        const tab = book.data.tabs.find((t) => t.name === name);
        return tab ? sheetFor(tab) : null;
      },
      getActiveSheet: () => sheetFor(book.data.tabs[0]),
      getSheetById: (sheetId) => {
        const tab = book.data.tabs.find((t) => t.sheetId === sheetId);
        return tab ? sheetFor(tab) : null;
      },
      getRange: (text) => {
        const [name, a1] = splitSheetName(text);
        const tab = name === null ? book.data.tabs[0] : book.data.tabs.find((t) => t.name === name);
        if (!tab) {
          throw new Error(`Exception: Range not found: ${text}`);
        }
        return sheetFor(tab).getRange(a1);
      },
      insertSheet: (name) => {
        const title = name === undefined ? `Sheet${book.data.tabs.length + 1}` : String(name);
        if (book.data.tabs.some((t) => t.name === title)) {
          throw new Error(`Exception: A sheet with the name "${title}" already exists. Please enter another name.`);
        }
        const ids = book.data.tabs.map((t) => t.sheetId);
        const tab = tabData({ name: title, sheetId: Math.max(0, ...ids) + 1, values: [], maxRows: 1000, maxColumns: 26 });
        book.data.tabs.push(tab);
        return sheetFor(tab);
      },
      deleteSheet: (sheet) => {
        book.data.tabs = book.data.tabs.filter((t) => t.name !== sheet.getName());
      },
      toast: () => undefined,
      flush: () => undefined,
    });
    book.spreadsheet = book.spreadsheet || spreadsheet;
    return spreadsheet;
  }

  const SpreadsheetApp = standIn('SpreadsheetApp', {
    getActiveSpreadsheet: () => makeSpreadsheet(fixture.active),
    getActive: () => makeSpreadsheet(fixture.active),
    getActiveSheet: () => makeSpreadsheet(fixture.active).getActiveSheet(),
    openById: (id) => makeSpreadsheet(String(id)),
    openByUrl: (url) => {
      const match = /\/d\/([A-Za-z0-9_-]+)/.exec(String(url));
      return makeSpreadsheet(match ? match[1] : String(url));
    },
    flush: () => undefined,
  });

  // services Apps Script has and staging tests do not -------------------------------------------

  const MISSING = [
    'AdminDirectory', 'AdminReports', 'Analytics', 'BigQuery', 'Browser', 'Calendar', 'CalendarApp',
    'CardService', 'Charts', 'Classroom', 'ConferenceDataService', 'ContactsApp', 'ContentService',
    'DataStudioApp', 'Docs', 'DocumentApp', 'Drive', 'FormApp', 'Forms', 'Gmail', 'GroupsApp',
    'HtmlService', 'Jdbc', 'LanguageApp', 'LinearOptimizationService', 'LockService', 'Maps',
    'People', 'ScriptApp', 'Sheets', 'SitesApp', 'Slides', 'SlidesApp', 'Tasks', 'XmlService',
    'YouTube',
  ];

  // what tests use: assertions and what the recorders saw ---------------------------------------

  function same(a, b) {
    if (a instanceof NativeDate && b instanceof NativeDate) {
      return a.getTime() === b.getTime();
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      return a.length === b.length && a.every((v, i) => same(v, b[i]));
    }
    if (a && b && typeof a === 'object' && typeof b === 'object') {
      const keys = Object.keys(a);
      return keys.length === Object.keys(b).length && keys.every((k) => same(a[k], b[k]));
    }
    return Object.is(a, b) || a === b;
  }

  const Staging = Object.freeze({
    assert(condition, message) {
      if (!condition) {
        throw new AssertionError(message || 'assertion failed');
      }
    },
    assertEqual(actual, expected, message) {
      if (!same(actual, expected)) {
        const prefix = message ? `${message}: ` : '';
        throw new AssertionError(`${prefix}expected ${show(expected)}, got ${show(actual)}`);
      }
    },
    assertThrows(fn, expected) {
      try {
        fn();
      } catch (error) {
        const text = String(error && error.message);
        if (expected && !text.includes(expected)) {
          throw new AssertionError(`expected an error with "${expected}", got "${text}"`);
        }
        return error;
      }
      throw new AssertionError(`expected an error${expected ? ` with "${expected}"` : ''}, none was thrown`);
    },
    fail(message) {
      throw new AssertionError(message || 'failed');
    },
    mails: () => copy(recorded.mails),
    fetches: () => copy(recorded.fetches),
    driveCalls: () => copy(recorded.drive),
    logs: () => recorded.output.map((o) => o.text),
    respondTo(pattern, answer) {
      recorded.responses.unshift({ pattern, response: answer || {} });
    },
  });

  // Typed arrays and ArrayBuffers live outside V8's heap, where its memory limit does not
  // reach: every allocation through them counts against [tests] memory_limit_mb.
  let typedBytes = 0;
  function reserve(bytes, what) {
    const size = Math.max(Number(bytes) || 0, 0);
    if (size > fixture.memoryBytes - typedBytes) {
      const limit = Math.round(fixture.memoryBytes / 1048576);
      throw new RangeError(`${what}: staging tests allow ${limit} MB of typed arrays in all ([tests] memory_limit_mb)`);
    }
    typedBytes += size;
  }

  const NativeArrayBuffer = ArrayBuffer;
  function CappedArrayBuffer(length, options) {
    if (!new.target) {
      throw new TypeError("Constructor ArrayBuffer requires 'new'");
    }
    reserve(Math.max(Number(length) || 0, Number(options && options.maxByteLength) || 0), 'ArrayBuffer');
    return Reflect.construct(NativeArrayBuffer, [length, options], new.target);
  }
  CappedArrayBuffer.prototype = NativeArrayBuffer.prototype;
  Object.setPrototypeOf(CappedArrayBuffer, NativeArrayBuffer);
  Object.defineProperty(NativeArrayBuffer.prototype, 'constructor', { value: CappedArrayBuffer, writable: true, configurable: true });
  for (const method of ['slice', 'transfer', 'transferToFixedLength']) {
    const native = NativeArrayBuffer.prototype[method];
    if (native) {
      NativeArrayBuffer.prototype[method] = function (...args) {
        reserve(this.byteLength, `ArrayBuffer.${method}`);
        return native.apply(this, args);
      };
    }
  }
  const cappedGlobals = { ArrayBuffer: CappedArrayBuffer };
  for (const name of [
    'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
    'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
  ]) {
    const Native = global[name];
    const Capped = function (first, ...rest) {
      if (!new.target) {
        throw new TypeError(`Constructor ${name} requires 'new'`);
      }
      if (!(first instanceof NativeArrayBuffer)) {
        const count = first !== null && typeof first === 'object' ? first.length : first;
        reserve((Number(count) || 0) * Native.BYTES_PER_ELEMENT, name);
      }
      return Reflect.construct(Native, [first, ...rest], new.target);
    };
    Capped.prototype = Native.prototype;
    Object.setPrototypeOf(Capped, Native); // from, of, BYTES_PER_ELEMENT, species
    Object.defineProperty(Native.prototype, 'constructor', { value: Capped, writable: true, configurable: true });
    cappedGlobals[name] = Capped;
  }

  const globals = {
    ...cappedGlobals,
    SpreadsheetApp, Logger, console: consoleStandIn, Utilities, PropertiesService, CacheService,
    Session, UrlFetchApp, MailApp, GmailApp, DriveApp, MimeType, Staging, Date: ScriptDate,
  };
  for (const name of MISSING) {
    globals[name] = missingService(name);
  }
  for (const [name, value] of Object.entries(globals)) {
    Object.defineProperty(global, name, { value, writable: true, configurable: true, enumerable: false });
  }
  // memory outside the heap, and nothing Apps Script code needs
  for (const name of ['SharedArrayBuffer', 'Atomics', 'WebAssembly']) {
    delete global[name];
  }

  // the runner's side: set up, run one test, describe what went wrong ---------------------------

  function safely(read, fallback) {
    try {
      const value = read();
      return typeof value === 'string' ? value : toText(value);
    } catch (error) {
      return fallback;
    }
  }

  function frames(stack) {
    const found = [];
    try {
      const lines = toText(stack).split('\n');
      for (let i = 1; i < lines.length; i++) {
        const match = /^\s*at (?:(.*?) \()?(.+?):(\d+):(\d+)\)?$/.exec(lines[i]);
        if (match) {
          found[found.length] = { file: match[2], line: Number(match[3]) };
        }
      }
    } catch (error) {
      // a project that broke String or RegExp gets no location
    }
    return found;
  }

  function describe(error) {
    const name = safely(() => (error instanceof Error ? error.name : ''), '');
    if (!name) {
      return { status: 'error', message: 'threw ' + safely(() => show(error), 'a value that cannot be shown'), frames: [] };
    }
    const message = safely(() => error.message, '');
    const failed = name === 'AssertionError';
    return {
      status: failed ? 'failed' : 'error',
      message: failed || name === 'NotAvailableError' ? message : name + ': ' + message,
      frames: frames(safely(() => error.stack, '')),
    };
  }

  /** The result as JSON, built from strings and numbers only (a project may replace
   * JSON.stringify or give objects a toJSON; neither reaches a primitive). */
  function encode(result) {
    let frameText = '';
    for (let i = 0; i < result.frames.length; i++) {
      const frame = result.frames[i];
      frameText += (i ? ',' : '') + '{"file":' + stringify(toText(frame.file)) + ',"line":' + stringify(Number(frame.line)) + '}';
    }
    let outputText = '';
    for (let i = 0; i < recorded.output.length; i++) {
      const entry = recorded.output[i];
      const text = entry.level === 'log' || entry.level === 'info' ? entry.text : entry.level + ': ' + entry.text;
      outputText += (i ? ',' : '') + stringify(toText(text).slice(0, 10000));
    }
    return '{"status":' + stringify(result.status) + ',"message":' + stringify(toText(result.message).slice(0, 10000)) +
      ',"frames":[' + frameText + '],"output":[' + outputText + ']}';
  }

  Object.defineProperty(global, '__sheetstage', {
    value: Object.freeze({
      setup(settings) {
        Object.assign(fixture, settings);
      },
      run(name) {
        const test = global[name];
        if (typeof test !== 'function') {
          return encode({ status: 'error', message: name + ' is not a function', frames: [] });
        }
        let result;
        try {
          test();
          result = { status: 'passed', message: '', frames: [] };
        } catch (error) {
          result = describe(error);
        }
        return encode(result);
      },
    }),
  });
})(globalThis);
//# sourceURL=sheetstage:stand-ins
