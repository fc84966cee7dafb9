/**
 * The appliance models the system knows. This is data: add a model by adding a row.
 * `statefulSync` says whether the model can run the Stateful Synchronization upgrade at all.
 */
export interface ApplianceModel {
  readonly model: string;
  readonly statefulSync: boolean;
}

export const MODEL_CATALOG: readonly ApplianceModel[] = [
  { model: 'NSA 2700', statefulSync: true },
  { model: 'NSA 3700', statefulSync: true },
  { model: 'NSA 4700', statefulSync: true },
  { model: 'NSA 5700', statefulSync: true },
  { model: 'NSA 6700', statefulSync: true },
  { model: 'TZ 270', statefulSync: false },
  { model: 'TZ 370', statefulSync: false },
  { model: 'TZ 470', statefulSync: false },
  { model: 'TZ 570', statefulSync: false },
  { model: 'TZ 670', statefulSync: false },
];

export function findModel(model: string): ApplianceModel | undefined {
  return MODEL_CATALOG.find((m) => m.model === model);
}
