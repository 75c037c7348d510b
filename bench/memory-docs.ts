// Documents of about 1 KB of JSON (the "memory per 1 KB document"), each different,
// with the mix of fields an application stores: strings, numbers, a boolean, an array and a
// nested object, padded by a text field.

import type { JsonObject } from 'collection-store';

const TARGET_JSON_BYTES = 1000; // plus the `_id` the database adds: about 1 KB stored
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];

export function kbDocument(i: number): JsonObject {
  const doc: { [key: string]: JsonObject[string] } = {
    name: `user ${i}`,
    email: `user${i}@example.com`,
    age: 18 + (i % 60),
    active: i % 2 === 0,
    score: ((i * 7919) % 10_007) / 100,
    tags: [WORDS[i % WORDS.length]!, WORDS[(i * 7) % WORDS.length]!, `t${i % 50}`],
    address: { street: `${i} Main Street`, city: `City ${i % 1000}`, zip: String(10_000 + (i % 90_000)) },
    bio: '',
  };
  const room = TARGET_JSON_BYTES - JSON.stringify(doc).length;
  let bio = '';
  for (let w = i; bio.length < room; w = (w * 31 + 7) % 1_000_003) bio += `${WORDS[w % WORDS.length]} ${w} `;
  doc.bio = bio.slice(0, room);
  return doc;
}
