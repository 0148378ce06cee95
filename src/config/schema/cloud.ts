import { CLOUD_AUTH_METHODS, CLOUD_COMPRESSIONS, EMBEDDED_CLOUD } from '../constants';
import { duration, object, oneOfValues, secret, string, type Schema } from './common';

/** `cloud`: the CouchDB-compatible master copy of the books. */
export const cloudSchema: Schema = object(
  'The cloud copy of the books: any CouchDB-compatible database (Apache CouchDB 3, IBM Cloudant, pouchdb-server).',
  {
    url: {
      description: `URL of the cloud database (e.g. https://couch.example.com/books), or '${EMBEDDED_CLOUD}' for a CouchDB-protocol server the daemon starts on 127.0.0.1, or a list of the database's URLs on the nodes of one CouchDB cluster (the first that answers is used; a connection error fails over to the next). No user name or password in the URL: use auth.`,
      oneOf: [
        string('URL of the cloud database, or embedded.', { format: 'booksync-cloud-url' }),
        {
          type: 'array',
          description:
            'The database URL on each node of one CouchDB cluster, in order of preference.',
          minItems: 1,
          items: string('The database URL on one cluster node.', { format: 'booksync-cloud-url' }),
        },
      ],
    },
    auth: object(
      'How the daemon logs in to the cloud. Leave out for the embedded cloud, which makes its own login (STATE_DIR/cloud-credentials), and for a server that needs none.',
      {
        method: oneOfValues(
          'basic: an Authorization header on every request; cookie: one _session login, renewed when it expires.',
          CLOUD_AUTH_METHODS,
          { default: 'basic' },
        ),
        username: string('Cloud user name.'),
        password: secret('Cloud password.'),
      },
      { required: ['username', 'password'] },
    ),
    request_timeout: duration('Timeout of each request to the cloud.', '30s'),
    compression: oneOfValues(
      'Whether to ask the cloud for gzip-compressed answers. auto: yes, unless the cloud is on this machine (a loopback address such as the embedded cloud), where compressing only costs CPU on both ends; gzip: always; none: never (a cloud on a fast LAN). Apache CouchDB itself never compresses; a reverse proxy or pouchdb-server in front of it may.',
      CLOUD_COMPRESSIONS,
      { default: 'auto' },
    ),
  },
  { required: ['url'] },
);
