import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError } from "../api/client";

/** useAction runs a change against the API, keeps its error for the page and refreshes the query it changed. */
export function useAction(queryKey: unknown[]) {
  const qc = useQueryClient();
  const [error, setError] = useState<ApiError>();
  const act = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      qc.invalidateQueries({ queryKey });
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  return { act, error, setError };
}
