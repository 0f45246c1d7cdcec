// React views for browsing a kvstore.
import React, { useState } from "react";
import { Client } from "./client";

/** Props of {@link KeyList}. */
export interface KeyListProps {
  keys: string[];
  onSelect(key: string): void;
}

/** Lists keys; clicking one selects it. */
export function KeyList({ keys, onSelect }: KeyListProps) {
  return (
    <ul>
      {keys.map((k) => (
        <KeyRow key={k} name={k} onClick={() => onSelect(k)} />
      ))}
    </ul>
  );
}

const KeyRow = ({ name, onClick }: { name: string; onClick: () => void }) => (
  <li onClick={onClick}>{name}</li>
);

export default function Browser({ client }: { client: Client }) {
  const [selected, setSelected] = useState<string | null>(null);
  return <KeyList keys={[]} onSelect={setSelected} />;
}
