// What the page's JS adds to `window` and uses of WebGPU, for the type
// check (scripts/check-js.sh). The wasm API's own declarations are
// generated: aelab.d.ts.

interface Window {
  /** Hooks the e2e tests call (tests/e2e). */
  aelabTest: {
    loseGpu?: () => Promise<number>;
    failStorage?: string | null;
    [hook: string]: unknown;
  };
  /** Shows a panic of the wasm module (src/web/mod.rs sets the hook). */
  aelabPanic: (msg: string) => void;
  aelabRunBench: () => Promise<object[]>;
  aelabBenchResults: string;
  aelabFirstDenoiseMs: number;
  aelabUpdateMs: number[];
  GPUAdapter?: unknown;
}

/** The part of WebGPU the page touches: it watches devices for loss. */
interface GPUDevice {
  lost: Promise<{ reason: string; message: string }>;
  destroy(): void;
}
declare var GPUAdapter: {
  prototype: { requestDevice(...args: unknown[]): Promise<GPUDevice> };
};

/**
 * One of the wasm module's objects (a Lab, a lab handle, a TrainSession, a
 * LossChart) as the page holds it: it lives with the lab's session
 * (lab-host.js, in the lab worker), and each method resolves to its
 * result; a getter is a method with no arguments (remote.js).
 */
type Remote<T> = {
  [K in keyof T as K extends 'free' | symbol ? never : K]: T[K] extends (...a: infer A) => infer R
    ? (...a: RemoteArgs<A>) => Promise<Remoted<Awaited<R>>>
    : () => Promise<T[K]>;
} & { free(): Promise<void> };
type Remoted<R> = R extends { free(): void } ? Remote<R> : R;
/** A remote object may be passed back as an argument where the method takes the object. */
type RemoteArgs<A extends unknown[]> = { [I in keyof A]: A[I] extends { free(): void } ? Remote<A[I]> | A[I] : A[I] };
