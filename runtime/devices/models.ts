import Ajv, { type ValidateFunction } from 'ajv';
import { Errors, toFieldErrors, type FieldError } from '../errors';
import type { Collection, Store } from '../store';
import type { Logger } from '../log';
import type { DeviceRegistry } from './registry';
import { MODEL_NAME_PATTERN } from './selector';
import { compileConfigSchema } from './model-schema';

export { MAX_CONFIG_SCHEMA_BYTES } from './model-schema';

/** A device model: a template whose config schema every configuration of its devices must satisfy. */
export interface DeviceModel {
  /** Its identity: what `device.model`, OTA artifacts and label selectors name. */
  name: string;
  description: string;
  /** A draft-07 JSON Schema of the device configuration. */
  configSchema: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

/** A create or replace body that passed check(). */
export interface CheckedModel {
  name: string;
  description: string;
  configSchema: Record<string, unknown>;
}

/**
 * Stored with the schema as JSON text: NeDB refuses field names that start with `$` or contain
 * `.`, and schemas are full of `$ref`s and may have such property names.
 */
interface ModelDoc {
  _id: string;
  description: string;
  schema: string;
  createdAt: number;
  updatedAt: number;
}

/** The longest model description, in characters. */
export const MODEL_DESCRIPTION_MAX = 1024;

const properties = {
  name: { type: 'string', pattern: MODEL_NAME_PATTERN, description: '1-64 letters, digits, "_", "." or "-", starting with a letter or digit' },
  description: { type: 'string', maxLength: MODEL_DESCRIPTION_MAX, description: 'Default ""' },
  configSchema: { type: 'object', description: 'A draft-07 JSON Schema of the device configuration, at most 64 KiB as JSON' },
} as const;

/** The body of POST /models (and of a flow pack's model). */
export const modelCreateSchema = { type: 'object', additionalProperties: false, required: ['name', 'configSchema'], properties } as const;

/** The body of PUT /models/{name}: `name`, if given, must be the one in the path. */
export const modelReplaceSchema = { type: 'object', additionalProperties: false, required: ['configSchema'], properties } as const;

const checkShape = new Ajv({ allErrors: true }).compile(modelCreateSchema);

function invalid(errors: FieldError[]) {
  return Errors.VALIDATION(errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
}

/** Most errors a configuration check lists; one config can fail a schema in very many places. */
const MAX_CONFIG_ERRORS = 50;

/**
 * Device models, persisted in the `models` collection and held in memory. A model's config schema
 * is compiled when it is checked; the compiled validator is kept per model and replaced when the
 * model is.
 *
 * Device model names were free text on devices before models were registered (OTA artifacts
 * target them too), so a device whose model is not registered here has no schema to satisfy.
 */
export class ModelService {
  private readonly models = new Map<string, DeviceModel>();
  private readonly validators = new Map<string, ValidateFunction>();
  private collection!: Collection<ModelDoc>;
  /** One write at a time, so two creates of one name cannot both pass the conflict check. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: { devices: DeviceRegistry; log: Logger; now: () => number }) {}

  async start(store: Store): Promise<void> {
    this.collection = await store.collection<ModelDoc>('models');
    for (const doc of await this.collection.all()) {
      this.models.set(doc._id, { name: doc._id, description: doc.description, configSchema: JSON.parse(doc.schema), createdAt: doc.createdAt, updatedAt: doc.updatedAt });
    }
  }

  /** Every model, sorted by name. */
  list(): DeviceModel[] {
    return [...this.models.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(copy);
  }

  /** The model named `name`; FF_MODEL_NOT_FOUND if there is none. */
  get(name: string): DeviceModel {
    return copy(this.require(name));
  }

  /** Check a create or replace body and write nothing: FF_VALIDATION lists every failing JSON path. */
  check(input: unknown): CheckedModel {
    return this.compile(input).model;
  }

  /** Register a model; FF_CONFLICT if one of that name exists. */
  create(input: unknown): Promise<DeviceModel> {
    return this.exclusive(async () => {
      const { model, validate } = this.compile(input);
      if (this.models.has(model.name)) throw Errors.CONFLICT(`A model named ${JSON.stringify(model.name)} exists; replace it with PUT /models/${model.name}`);
      const t = this.deps.now();
      const created: DeviceModel = { ...model, createdAt: t, updatedAt: t };
      await this.collection.insert(toDoc(created));
      this.models.set(created.name, created);
      this.validators.set(created.name, validate);
      return copy(created);
    });
  }

  /** Replace a model's description and config schema. The body's `name`, if given, must be `name`. */
  update(name: string, input: unknown): Promise<DeviceModel> {
    return this.exclusive(async () => {
      const existing = this.require(name);
      const body = isObject(input) ? input : null;
      if (body && body.name !== undefined && body.name !== name) {
        throw invalid([{ path: '/name', message: `must be ${JSON.stringify(name)}, the name in the path, or left out` }]);
      }
      const { model, validate } = this.compile(body ? { ...body, name } : input);
      const updated: DeviceModel = { ...model, createdAt: existing.createdAt, updatedAt: this.deps.now() };
      await this.collection.replace(toDoc(updated));
      this.models.set(name, updated);
      this.validators.set(name, validate);
      return copy(updated);
    });
  }

  /** Delete a model; FF_MODEL_IN_USE while any device names it. */
  remove(name: string): Promise<void> {
    return this.exclusive(async () => {
      this.require(name);
      let users = 0;
      for (const device of this.deps.devices.all()) if (device.model === name) users++;
      if (users > 0) {
        throw Errors.MODEL_IN_USE(`Model ${JSON.stringify(name)} is used by ${users} device${users === 1 ? '' : 's'}; give them another model (or none) first`);
      }
      await this.collection.remove(name);
      this.models.delete(name);
      this.validators.delete(name);
    });
  }

  /**
   * The errors of `config` against the schema of model `modelName`, with JSON paths in the
   * configuration. None when the device has no model, or a model that is not registered.
   */
  validateConfig(modelName: string | null, config: unknown): FieldError[] {
    if (modelName === null) return [];
    const model = this.models.get(modelName);
    if (!model) return [];
    let validate = this.validators.get(modelName);
    if (!validate) {
      const compiled = compileConfigSchema(model.configSchema);
      if (!compiled.validate) {
        // Stored by an older version with other rules, say: refuse configurations rather than accept them unchecked.
        this.deps.log.error('a stored model schema does not compile', { model: modelName, error: compiled.errors[0]?.message });
        return [{ path: '/', message: `cannot be checked: the config schema of model ${JSON.stringify(modelName)} does not compile; replace the model` }];
      }
      validate = compiled.validate;
      this.validators.set(modelName, validate);
    }
    return validate(config) ? [] : toFieldErrors(validate.errors).slice(0, MAX_CONFIG_ERRORS);
  }

  private compile(input: unknown): { model: CheckedModel; validate: ValidateFunction } {
    if (!checkShape(input)) throw invalid(toFieldErrors(checkShape.errors));
    const body = input as { name: string; description?: string; configSchema: Record<string, unknown> };
    // Compile a copy: validators refer to parts of their schema (enum values, say), and the
    // caller's object may change after the check.
    let configSchema: Record<string, unknown>;
    try {
      configSchema = JSON.parse(JSON.stringify(body.configSchema));
    } catch (err) {
      throw invalid([{ path: '/configSchema', message: err instanceof RangeError ? 'is nested too deeply' : 'must be JSON' }]);
    }
    const compiled = compileConfigSchema(configSchema);
    if (!compiled.validate) throw invalid(compiled.errors);
    return { model: { name: body.name, description: body.description ?? '', configSchema }, validate: compiled.validate };
  }

  private require(name: string): DeviceModel {
    const model = typeof name === 'string' ? this.models.get(name) : undefined;
    if (!model) throw Errors.MODEL_NOT_FOUND(`No model is named ${JSON.stringify(String(name).slice(0, 64))}`);
    return model;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function copy(m: DeviceModel): DeviceModel {
  return { ...m, configSchema: structuredClone(m.configSchema) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toDoc(m: DeviceModel): ModelDoc {
  return { _id: m.name, description: m.description, schema: JSON.stringify(m.configSchema), createdAt: m.createdAt, updatedAt: m.updatedAt };
}
