import { deliveryListQuerySchema, pushSubscribeSchema } from './schemas';
import { subscriptionSchema } from '../notify/subscription-model';
import { DELIVERY_SOURCES, DELIVERY_STATUSES } from '../notify/delivery';
import { ENDPOINT_TYPES } from '../notify/endpoint-model';
import { errors, idParam, json, list, notFound, oas, ok, problem, queryParams, ref } from './openapi-helpers';

const time = { type: 'string', format: 'date-time' };
const nullableTime = { ...time, nullable: true };

/** Components of the notification part of the API. */
export function notificationSchemas() {
  return {
    Endpoint: {
      type: 'object',
      description: 'Where notifications go. Credentials are write-only: `credentials` lists the names of those that are set.',
      properties: {
        id: { type: 'string', format: 'uuid' },
        type: { type: 'string', enum: ENDPOINT_TYPES },
        name: { type: 'string' },
        enabled: { type: 'boolean' },
        disabledReason: { type: 'string', nullable: true },
        owner: { type: 'string', nullable: true, description: 'The user a push endpoint belongs to' },
        config: { type: 'object', description: 'By type; see docs/notifications.md' },
        credentials: { type: 'object', additionalProperties: { type: 'boolean' } },
        secret: { type: 'string', description: 'Only in the response that created a webhook without a secret: its signing secret, shown once' },
        createdAt: time,
        updatedAt: time,
      },
    },
    EndpointInput: {
      type: 'object',
      required: ['type', 'name'],
      properties: {
        type: { type: 'string', enum: ENDPOINT_TYPES },
        name: { type: 'string', maxLength: 128 },
        enabled: { type: 'boolean' },
        config: {
          type: 'object',
          description:
            'email: {to: [address], cc?: [address]}. sms: {provider: "twilio", accountSid, from (E.164), to: [E.164], baseUrl?} or ' +
            '{provider: "http", url, method?: POST|PUT|GET, contentType?, bodyTemplate? (mustache with {{to}} {{text}} {{subject}}), to: [E.164]}. ' +
            'webhook: {url, timeoutMs? (100-120000, default 10000)}. push: use POST /notifications/push/subscriptions.',
        },
        credentials: { type: 'object', description: 'sms twilio: {authToken}; sms http: {headers}; webhook: {secret?} (generated when left out)' },
      },
    },
    Subscription: { ...(oas(subscriptionSchema) as object), properties: { id: { type: 'string', format: 'uuid' }, ...(oas(subscriptionSchema.properties) as object), createdAt: time, updatedAt: time } },
    Delivery: {
      type: 'object',
      properties: {
        id: { type: 'string', description: 'Time-ordered; also the idempotency key' },
        status: { type: 'string', enum: DELIVERY_STATUSES },
        endpoint: { type: 'string' },
        endpointType: { type: 'string', enum: ENDPOINT_TYPES },
        subscription: { type: 'string', nullable: true },
        source: { type: 'string', enum: DELIVERY_SOURCES },
        event: { type: 'object', properties: { id: { type: 'string' }, type: { type: 'string' }, device: { type: 'string', nullable: true }, severity: { type: 'string', nullable: true }, time } },
        subject: { type: 'string' },
        text: { type: 'string' },
        attachments: {
          type: 'array',
          description: 'Files sent with an email delivery (name, media type, size; never the content)',
          items: { type: 'object', properties: { filename: { type: 'string' }, contentType: { type: 'string', nullable: true }, size: { type: 'integer' } } },
        },
        idempotencyKey: { type: 'string' },
        tries: { type: 'integer' },
        maxAttempts: { type: 'integer' },
        attempts: {
          type: 'array',
          items: { type: 'object', properties: { at: time, durationMs: { type: 'integer', nullable: true }, ok: { type: 'boolean' }, code: { type: 'string', nullable: true }, error: { type: 'string', nullable: true }, status: { type: 'integer', nullable: true } } },
        },
        nextAttemptAt: nullableTime,
        createdAt: time,
        updatedAt: time,
        sentAt: nullableTime,
      },
    },
  };
}

const bad = (codes: string) => problem(codes);

/** Paths of the notification part of the API. */
export function notificationPaths() {
  return {
    '/notifications/endpoints': {
      get: { summary: 'List notification endpoints', parameters: [{ name: 'type', in: 'query', required: false, schema: { type: 'string', enum: ENDPOINT_TYPES } }], responses: { 200: ok('Endpoints', list('Endpoint')), 401: errors[401] } },
      post: {
        summary: 'Create an email, SMS or webhook endpoint',
        requestBody: { required: true, content: json(ref('EndpointInput')) },
        responses: { 201: ok('Created', ref('Endpoint')), 400: bad('FF_INVALID_ENDPOINT, FF_INVALID_EMAIL, FF_INVALID_PHONE, FF_INVALID_URL, FF_FORBIDDEN_TARGET, FF_INVALID_TEMPLATE, FF_MISSING_CREDENTIALS'), 401: errors[401] },
      },
    },
    '/notifications/endpoints/{id}': {
      parameters: [idParam('endpoint')],
      get: { summary: 'Get an endpoint', responses: { 200: ok('Endpoint', ref('Endpoint')), 401: errors[401], 404: notFound('FF_ENDPOINT_NOT_FOUND') } },
      patch: {
        summary: 'Change an endpoint; credentials left out are kept; enabling clears the reason it was disabled',
        requestBody: { required: true, content: json(ref('EndpointInput')) },
        responses: { 200: ok('Endpoint', ref('Endpoint')), 400: bad('FF_INVALID_ENDPOINT, ...'), 401: errors[401], 404: notFound('FF_ENDPOINT_NOT_FOUND') },
      },
      delete: { summary: 'Delete an endpoint (its waiting deliveries are cancelled)', responses: { 204: { description: 'Deleted' }, 401: errors[401], 404: notFound('FF_ENDPOINT_NOT_FOUND'), 409: problem('Subscriptions send to it (FF_CONFLICT)') } },
    },
    '/notifications/endpoints/{id}/test': {
      parameters: [idParam('endpoint')],
      post: { summary: 'Send a test notification', responses: { 202: ok('Queued', ref('Delivery')), 401: errors[401], 404: notFound('FF_ENDPOINT_NOT_FOUND') } },
    },
    '/notifications/push/key': {
      get: { summary: "The platform's VAPID public key (base64url), for pushManager.subscribe()", responses: { 200: ok('Key', { type: 'object', properties: { publicKey: { type: 'string' } } }), 401: errors[401] } },
    },
    '/notifications/push/subscriptions': {
      post: {
        summary: "Store a browser's push subscription as a push endpoint of the calling user (the page at /notify/subscribe does this)",
        requestBody: { required: true, content: json(oas(pushSubscribeSchema)) },
        responses: { 201: ok('Created', ref('Endpoint')), 400: bad('FF_INVALID_PUSH_SUBSCRIPTION, FF_FORBIDDEN_TARGET'), 401: errors[401] },
      },
    },
    '/notifications/subscriptions': {
      get: { summary: 'List subscriptions', responses: { 200: ok('Subscriptions', list('Subscription')), 401: errors[401] } },
      post: {
        summary: 'Route events to endpoints',
        requestBody: { required: true, content: json(oas(subscriptionSchema)) },
        responses: { 201: ok('Created', ref('Subscription')), 400: bad('FF_INVALID_SUBSCRIPTION, FF_INVALID_TEMPLATE'), 401: errors[401] },
      },
    },
    '/notifications/subscriptions/{id}': {
      parameters: [idParam('subscription')],
      get: { summary: 'Get a subscription', responses: { 200: ok('Subscription', ref('Subscription')), 401: errors[401], 404: notFound('FF_SUBSCRIPTION_NOT_FOUND') } },
      patch: {
        summary: 'Change a subscription (fields given replace the stored ones)',
        requestBody: { required: true, content: json(oas(subscriptionSchema)) },
        responses: { 200: ok('Subscription', ref('Subscription')), 400: bad('FF_INVALID_SUBSCRIPTION, FF_INVALID_TEMPLATE'), 401: errors[401], 404: notFound('FF_SUBSCRIPTION_NOT_FOUND') },
      },
      delete: { summary: 'Delete a subscription (its reminders stop)', responses: { 204: { description: 'Deleted' }, 401: errors[401], 404: notFound('FF_SUBSCRIPTION_NOT_FOUND') } },
    },
    '/notifications/send': {
      post: {
        summary: 'Send a message now, to endpoints or through a subscription',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            properties: {
              endpoints: { type: 'array', items: { type: 'string' } },
              subscription: { type: 'string' },
              subject: { type: 'string', description: 'mustache' },
              body: { type: 'string', description: 'mustache' },
              html: { type: 'string', description: 'mustache' },
              data: { description: 'JSON the templates see as {{data}}' },
              device: { type: 'string' },
              severity: { type: 'string' },
              name: { type: 'string' },
              attachments: {
                type: 'array',
                maxItems: 10,
                description: 'Files for email endpoints (other types get the text alone); at most 4 MiB together, decoded',
                items: {
                  type: 'object',
                  required: ['filename', 'content'],
                  properties: { filename: { type: 'string', maxLength: 255 }, content: { type: 'string' }, encoding: { type: 'string', enum: ['utf8', 'base64'] }, contentType: { type: 'string' } },
                },
              },
            },
          }),
        },
        responses: { 202: ok('Queued', { type: 'object', properties: { items: { type: 'array', items: ref('Delivery') } } }), 400: bad('FF_INVALID_NOTIFICATION, FF_INVALID_TEMPLATE'), 413: problem('FF_ATTACHMENT_TOO_LARGE'), 401: errors[401], 404: notFound('FF_ENDPOINT_NOT_FOUND, FF_SUBSCRIPTION_NOT_FOUND') },
      },
    },
    '/notifications/events': {
      post: {
        summary: 'Announce a Custom event for subscriptions to match',
        requestBody: { required: true, content: json({ type: 'object', required: ['name'], properties: { name: { type: 'string' }, device: { type: 'string' }, severity: { type: 'string' }, message: { type: 'string' }, data: {} } }) },
        responses: { 202: ok('Announced', { type: 'object', properties: { id: { type: 'string' } } }), 400: bad('FF_INVALID_NOTIFICATION'), 401: errors[401], 404: notFound('FF_DEVICE_NOT_FOUND') },
      },
    },
    '/notifications/deliveries': {
      get: {
        summary: 'List deliveries, newest first (status=dead is the dead-letter list)',
        parameters: queryParams(deliveryListQuerySchema),
        responses: { 200: ok('Deliveries', list('Delivery')), 400: errors[400], 401: errors[401] },
      },
    },
    '/notifications/deliveries/{id}': {
      parameters: [idParam('delivery')],
      get: { summary: 'Get a delivery with its HTML and data', responses: { 200: ok('Delivery', ref('Delivery')), 401: errors[401], 404: notFound('FF_DELIVERY_NOT_FOUND') } },
    },
    '/notifications/deliveries/{id}/resend': {
      parameters: [idParam('delivery')],
      post: { summary: 'Resend a dead-lettered delivery (same idempotency key)', responses: { 202: ok('Queued', ref('Delivery')), 401: errors[401], 404: notFound('FF_DELIVERY_NOT_FOUND'), 409: problem('Not dead-lettered (FF_CONFLICT)') } },
    },
  };
}
