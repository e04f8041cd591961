import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** Connect a real MQTT client; resolves on CONNACK 0, rejects with the CONNACK code otherwise. */
export function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...options });
    const fail = (err: Error) => {
      client.end(true);
      reject(err);
    };
    client.once('connect', () => {
      client.removeListener('error', fail);
      resolve(client);
    });
    client.once('error', fail);
    client.once('close', () => fail(new Error('connection closed before CONNACK')));
  });
}

/** The CONNACK return code a connection attempt gets (0 on success). */
export async function connackCode(url: string, options: IClientOptions): Promise<number> {
  try {
    const client = await connect(url, options);
    await client.endAsync();
    return 0;
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}

export function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = async () => {
      try {
        const v = await check();
        if (v) return resolve(v);
      } catch (err) {
        return reject(err);
      }
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 20);
    };
    void tick();
  });
}
